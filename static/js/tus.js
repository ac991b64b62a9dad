/* A tus 1.0.0 client (https://tus.io/protocols/resumable-upload) for any page:
   no build step, no dependency. It speaks the core protocol plus the creation,
   termination, expiration and checksum extensions, so it works with any tus
   server, and remembers each upload's URL in localStorage under a fingerprint
   of the file so that a reload can carry on where the last page stopped.

     const upload = new VaultTus.Upload(file, {
       endpoint: "/api/v1/uploads",
       metadata: { filename: file.name },
       headers: { "X-CSRFToken": token },
       onProgress(sent, total) {}, onRetry(delay, error) {},
       onSuccess({ url, fileId }) {}, onError(error) {},
     });
     upload.start(); upload.pause(); upload.start(); await upload.abort();

   Requests go through XMLHttpRequest rather than fetch: only XHR reports how
   much of a request body has been sent, which moves the bar within a chunk. */
(function () {
  "use strict";

  const VERSION = "1.0.0";
  const STORE_PREFIX = "tus::";
  const DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024; // well below a 100 MB proxy body limit
  // Network errors, 5xx and 423 are retried after these delays, then every
  // last delay for as long as the browser says it is online.
  const RETRY_DELAYS = [1000, 3000, 5000, 10000, 20000];
  // A DELETE right after aborting a PATCH may find the server still holding
  // that request's lock (423) until it notices: try for about half a minute.
  const TERMINATE_RETRY_DELAYS = [250, 1000, 2000, 4000, 8000, 15000];
  const CHECKSUM_ALGORITHMS = { sha1: "SHA-1", sha256: "SHA-256" };
  // A body that has not moved for this long is given up as a lost connection:
  // a dead one can otherwise hang for many minutes before the browser says so.
  const STALL_MS = 30_000;

  /* Fingerprints of uploads running in this page: a second Upload of the same
     file must not share (and fight over) the first one's URL. */
  const claimed = new Set();

  class TusError extends Error {
    constructor(message, { status = 0, body = "", cause = null, retryAfter = null } = {}) {
      super(message);
      this.name = "TusError";
      this.status = status;
      this.body = body;
      this.cause = cause;
      this.retryAfter = retryAfter; // ms the server asked us to wait, if it did
    }

    /* The server's JSON error ({"error": {"code", "message"}}), if it sent one. */
    get details() {
      try {
        const parsed = JSON.parse(this.body);
        return parsed && typeof parsed === "object" ? parsed : null;
      } catch {
        return null;
      }
    }

    get retriable() {
      return isRetriable(this.status);
    }
  }

  /* Worth trying again later: no answer (0), the server (5xx), a lock (423), a
     chunk damaged on the way (460). 507 is a full disk or quota and 501 a
     missing feature: waiting does not help those. */
  function isRetriable(status) {
    return status === 0 || status === 423 || status === 460 ||
      (status >= 500 && status !== 501 && status !== 507);
  }

  /* Thrown inside a run that pause() or abort() has ended; never reported. */
  class Stopped extends Error {}

  /* ---------- Remembered uploads (localStorage) ---------- */

  const store = {
    read(fingerprint) {
      try {
        const entry = JSON.parse(localStorage.getItem(STORE_PREFIX + fingerprint) || "null");
        return entry && typeof entry.url === "string" ? entry : null;
      } catch {
        return null; // storage off, full or corrupt: the upload simply cannot resume
      }
    },
    write(fingerprint, entry) {
      try {
        localStorage.setItem(STORE_PREFIX + fingerprint, JSON.stringify(entry));
      } catch {
        /* Private mode or a full quota: resuming after a reload is a bonus. */
      }
    },
    remove(fingerprint) {
      try {
        localStorage.removeItem(STORE_PREFIX + fingerprint);
      } catch {
        /* Nothing to forget. */
      }
    },
    fingerprints() {
      const found = [];
      try {
        for (let index = 0; index < localStorage.length; index += 1) {
          const key = localStorage.key(index);
          if (key && key.startsWith(STORE_PREFIX)) found.push(key.slice(STORE_PREFIX.length));
        }
      } catch {
        return [];
      }
      return found;
    },
  };

  function isExpired(entry, now = Date.now()) {
    return typeof entry.expires === "number" && entry.expires <= now;
  }

  /* Every remembered upload still in date, as {fingerprint, url, size, expires,
     ...extra}; expired ones are forgotten on the way. `accept(entry)` filters. */
  function storedUploads(accept = () => true) {
    const entries = [];
    for (const fingerprint of store.fingerprints()) {
      const entry = store.read(fingerprint);
      if (!entry || isExpired(entry)) {
        store.remove(fingerprint);
        continue;
      }
      const found = { ...entry, fingerprint };
      if (accept(found)) entries.push(found);
    }
    return entries;
  }

  /* ---------- HTTP ---------- */

  /* Send one request; resolves with {status, header(name), body} for any HTTP
     answer, rejects with a TusError(status 0) when none came (or interrupt()
     gave up on it), and with Stopped when it was aborted on purpose. */
  function request(method, url, { headers = {}, body = null, onProgress = null, onXhr = null, stallMs = STALL_MS } = {}) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open(method, url);
      xhr.setRequestHeader("Tus-Resumable", VERSION);
      for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
      let stall = 0;
      if (body !== null) {
        const watch = () => {
          clearTimeout(stall);
          stall = setTimeout(() => interrupt(xhr, "The connection stalled."), stallMs);
        };
        xhr.upload.addEventListener("progress", (event) => {
          watch();
          if (onProgress) onProgress(event.loaded);
        });
        // Sent: the server may take its time to answer (it hashes a whole file at the end).
        xhr.upload.addEventListener("load", () => clearTimeout(stall));
        watch();
      }
      xhr.addEventListener("loadend", () => clearTimeout(stall));
      xhr.addEventListener("load", () => resolve({
        status: xhr.status,
        header: (name) => xhr.getResponseHeader(name),
        body: xhr.responseText,
      }));
      xhr.addEventListener("error", () => reject(new TusError("The connection was lost.")));
      xhr.addEventListener("abort", () => reject(xhr.interruption ? new TusError(xhr.interruption) : new Stopped()));
      if (onXhr) onXhr(xhr);
      xhr.send(body);
    });
  }

  /* Abort a request as a lost connection, to be retried (not a pause). */
  function interrupt(xhr, why) {
    xhr.interruption = why;
    xhr.abort();
  }

  function failure(response, what) {
    return new TusError(`${what} failed (${response.status}).`, {
      status: response.status,
      body: response.body,
      retryAfter: retryAfterMs(response.header("Retry-After")),
    });
  }

  /* Retry-After in seconds (a lock held by a request that died lapses then),
     capped: a server's word is no reason to sit idle for an hour. */
  function retryAfterMs(value) {
    if (value === null || !/^\d+$/.test(value.trim())) return null;
    return Math.min(Number(value) * 1000, 5 * 60 * 1000);
  }

  function offsetFrom(response) {
    const value = response.header("Upload-Offset");
    if (value === null || !/^\d+$/.test(value)) {
      throw new TusError("The server did not say how much it has (Upload-Offset).", { status: response.status });
    }
    return Number(value);
  }

  /* Upload-Metadata: comma-separated "key base64(UTF-8 value)" pairs. */
  function encodeMetadata(metadata) {
    return Object.entries(metadata)
      .filter(([, value]) => value !== null && value !== undefined)
      .map(([key, value]) => {
        const text = String(value);
        if (!text) return key; // tus allows a key without a value
        let binary = "";
        for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
        return `${key} ${btoa(binary)}`;
      })
      .join(",");
  }

  function waitFor(milliseconds) {
    return new Promise((resolve) => setTimeout(resolve, milliseconds));
  }

  /* Ask the server to drop an upload; a lock (the PATCH just aborted may still
     be finishing on the server) or a lost connection gets a few more tries. */
  async function terminate(url, headers = {}) {
    let lastStatus = 0;
    for (let attempt = 0; ; attempt += 1) {
      try {
        const response = await request("DELETE", url, { headers });
        lastStatus = response.status;
        if (!isRetriable(response.status)) return response.status; // gone, or refused
      } catch (error) {
        if (!(error instanceof TusError)) throw error;
        lastStatus = 0;
      }
      if (attempt >= TERMINATE_RETRY_DELAYS.length) return lastStatus;
      await waitFor(TERMINATE_RETRY_DELAYS[attempt]);
    }
  }

  /* A DELETE's status that leaves nothing on the server: dropped now (204) or
     already gone (404, 410). */
  function isGone(status) {
    return status === 204 || status === 404 || status === 410;
  }

  /* Forget a stored URL, unless another page has stored a newer one since. */
  function forgetStored(fingerprint, url) {
    const entry = store.read(fingerprint);
    if (entry && entry.url === url) store.remove(fingerprint);
  }

  /* Ask the server to drop a remembered upload, then forget it; one the server
     could not drop yet stays remembered, to be discarded later. Resolves with
     the DELETE's status. */
  async function discard(entry, headers = {}) {
    const status = await terminate(entry.url, headers);
    if (isGone(status)) forgetStored(entry.fingerprint, entry.url);
    return status;
  }

  /* ---------- One upload ---------- */

  class Upload {
    constructor(file, options) {
      this.file = file;
      this.options = {
        endpoint: "",
        metadata: {},
        headers: {},
        chunkSize: DEFAULT_CHUNK_SIZE,
        retryDelays: RETRY_DELAYS,
        stallTimeout: STALL_MS, // give up on a chunk whose bytes stopped moving this long
        checksum: null, // "sha1" or "sha256": send Upload-Checksum with each chunk
        fingerprint: null, // defaults to the endpoint, name, size, date and type
        storeExtra: {}, // kept with the URL, shown by whoever lists stored uploads
        onProgress: null, // (bytesSent, bytesTotal)
        onRetry: null, // (delayMs or null when waiting to be online, error)
        onSuccess: null, // ({url, fileId})
        onError: null, // (TusError)
        ...options,
      };
      if (!(this.options.chunkSize > 0)) throw new RangeError("chunkSize must be a positive number of bytes.");
      this.fingerprint = this.options.fingerprint || JSON.stringify([
        "tus", new URL(this.options.endpoint, window.location.href).href,
        file.name, file.size, file.lastModified, file.type,
      ]);
      this.url = null;
      this.offset = 0;
      this.fileId = null;
      this.running = false;
      this._run = 0; // bumped by pause/abort: a stale run stops at its next step
      this._xhr = null;
      this._wake = null; // ends a retry wait early (the browser came back online)
      this._remembers = false;
      // The browser knows before the connection does: stop now, and wait for "online".
      this._offline = () => {
        if (this._xhr) interrupt(this._xhr, "The browser went offline.");
      };
    }

    /* Start, or carry on after pause() or a failure. */
    start() {
      if (this.running) return;
      this.running = true;
      const run = ++this._run;
      this._claim();
      window.addEventListener("offline", this._offline);
      this._go(run);
    }

    /* Stop sending but keep the upload (and its claim on the fingerprint):
       start() continues from the server's offset. */
    pause() {
      this._settle();
      this._run += 1;
      if (this._xhr) this._xhr.abort();
      this._xhr = null;
      if (this._wake) this._wake();
    }

    /* Stop and tell the server to drop what it has (termination), then forget
       it here. Resolves with the DELETE's status (null if nothing was created). */
    async abort() {
      this.pause();
      this._release();
      const url = this.url;
      this.url = null;
      this.offset = 0;
      if (!url) return null;
      return discard({ fingerprint: this.fingerprint, url }, this.options.headers);
    }

    /* Not running any more (paused, done or failed). */
    _settle() {
      this.running = false;
      window.removeEventListener("offline", this._offline);
    }

    _claim() {
      if (!claimed.has(this.fingerprint)) {
        claimed.add(this.fingerprint);
        this._remembers = true;
      }
    }

    _release() {
      if (this._remembers) claimed.delete(this.fingerprint);
      this._remembers = false;
    }

    _check(run) {
      if (run !== this._run) throw new Stopped();
    }

    async _go(run) {
      let attempt = 0;
      for (;;) {
        try {
          await this._transfer(run, () => {
            attempt = 0; // progress was made: the next failure starts the backoff again
          });
          this._succeed(run);
          return;
        } catch (error) {
          if (error instanceof Stopped || run !== this._run) return;
          if (!(error instanceof TusError) || !error.retriable) {
            this._fail(run, error);
            return;
          }
          if (error.status === 0 && !(await this._readable())) {
            // Not the network: the browser may no longer read a file that was
            // changed or moved. Keep the upload: picking the file again resumes it.
            const unreadable = new TusError(
              "The file can no longer be read from your device: was it changed, moved or deleted?",
              { cause: error });
            if (run === this._run) this._fail(run, unreadable, { keep: true });
            return;
          }
          await this._backOff(run, attempt, error);
          if (run !== this._run) return;
          attempt += 1;
        }
      }
    }

    async _transfer(run, madeProgress) {
      for (let restarts = 0; ; restarts += 1) {
        if (!this.url) this._recall();
        if (this.url) await this._head(run);
        if (!this.url) await this._create(run);
        this._report(this.offset);
        // A zero-length upload is complete at creation; everything else ends
        // with the PATCH that brings the offset up to the length.
        while (this.url && this.offset < this.file.size) {
          await this._patch(run);
          madeProgress();
        }
        if (this.url) return;
        // The server lost the upload (it expired, or was removed): start again
        // once, but not in a loop if it keeps losing new ones.
        if (restarts > 0) throw new TusError("The server keeps losing this upload.", { status: 404 });
      }
    }

    /* Use the URL an earlier page stored for this file, if still in date. */
    _recall() {
      if (!this._remembers) return;
      const entry = store.read(this.fingerprint);
      if (!entry) return;
      if (isExpired(entry) || entry.size !== this.file.size) {
        store.remove(this.fingerprint);
        return;
      }
      this.url = entry.url;
    }

    _remember(expires) {
      if (!this._remembers) return;
      store.write(this.fingerprint, {
        ...this.options.storeExtra,
        url: this.url,
        size: this.file.size,
        expires,
        created: Date.now(),
      });
    }

    _renewExpiry(response) {
      const expires = this._expiresFrom(response);
      if (expires === null || !this._remembers) return;
      const entry = store.read(this.fingerprint);
      if (entry && entry.url === this.url && entry.expires !== expires) store.write(this.fingerprint, { ...entry, expires });
    }

    _expiresFrom(response) {
      const value = response.header("Upload-Expires");
      const time = value ? Date.parse(value) : NaN;
      return Number.isNaN(time) ? null : time;
    }

    _forget() {
      if (this.url) forgetStored(this.fingerprint, this.url);
    }

    /* The server no longer has this upload (or it is someone else's): forget
       it, and the next step creates a new one. */
    _lose() {
      this._forget();
      this.url = null;
      this.offset = 0;
    }

    async _send(run, method, url, options = {}) {
      this._check(run);
      let sent = null;
      try {
        return await request(method, url, {
          stallMs: this.options.stallTimeout,
          ...options,
          headers: { ...this.options.headers, ...(options.headers || {}) },
          onXhr: (xhr) => {
            sent = xhr;
            this._xhr = xhr;
          },
        });
      } finally {
        // A run started since (pause, then start) may have its own request by now.
        if (this._xhr === sent) this._xhr = null;
        this._check(run);
      }
    }

    /* Creation: POST the length and metadata, get the upload's URL. */
    async _create(run) {
      const headers = { "Upload-Length": String(this.file.size) };
      const metadata = encodeMetadata(this.options.metadata);
      if (metadata) headers["Upload-Metadata"] = metadata;
      const response = await this._send(run, "POST", this.options.endpoint, { headers });
      if (response.status !== 201) throw failure(response, "Creating the upload");
      const location = response.header("Location");
      if (!location) throw new TusError("The server did not say where the upload is (Location).", { status: 201 });
      this.url = new URL(location, new URL(this.options.endpoint, window.location.href)).href;
      this.offset = 0;
      this._remember(this._expiresFrom(response));
    }

    /* HEAD: how much does the server have? An upload it no longer knows (gone,
       expired, someone else's) is forgotten, and the next step creates anew. */
    async _head(run) {
      const response = await this._send(run, "HEAD", this.url);
      if (response.status === 404 || response.status === 410 || response.status === 403) {
        this._lose();
        return;
      }
      if (response.status < 200 || response.status >= 300) throw failure(response, "Asking for the upload's offset");
      const length = response.header("Upload-Length");
      if (length !== null && Number(length) !== this.file.size) {
        // The URL belongs to some other upload: start afresh rather than corrupt it.
        this._lose();
        return;
      }
      this.offset = offsetFrom(response);
      // A complete upload says which file it became: after a lost last answer,
      // this is how we learn it, with nothing sent again.
      this.fileId = response.header("Upload-File-Id") || this.fileId;
      this._renewExpiry(response);
    }

    /* PATCH the next chunk at the current offset. */
    async _patch(run) {
      const end = Math.min(this.offset + this.options.chunkSize, this.file.size);
      let body = this.file.slice(this.offset, end);
      const headers = {
        "Upload-Offset": String(this.offset),
        "Content-Type": "application/offset+octet-stream",
      };
      const checksum = await this._checksum(body);
      if (checksum) {
        headers["Upload-Checksum"] = checksum.header;
        body = checksum.bytes; // already in memory: do not read the file twice
      }
      const start = this.offset;
      const response = await this._send(run, "PATCH", this.url, {
        headers,
        body,
        onProgress: (sent) => this._report(start + Math.min(sent, end - start)),
      });
      if (response.status === 404 || response.status === 410) {
        // Expired or removed on the server: _transfer starts a new upload.
        this._lose();
        return;
      }
      if (response.status === 409) {
        await this._recoverOffset(run, response);
        return;
      }
      if (response.status !== 204 && response.status !== 200) throw failure(response, "Sending a chunk");
      this.offset = offsetFrom(response);
      this.fileId = response.header("Upload-File-Id") || this.fileId;
      this._renewExpiry(response);
      this._report(this.offset);
    }

    /* A 409 is an offset the server disagrees with: ask for its offset and go
       on from there. If it agrees with ours, the conflict was something else
       (a name already taken when the upload became a file): report it. */
    async _recoverOffset(run, conflict) {
      const ours = this.offset;
      await this._head(run);
      if (this.url && this.offset !== ours) return;
      throw failure(conflict, "Finishing the upload");
    }

    async _checksum(blob) {
      const algorithm = CHECKSUM_ALGORITHMS[this.options.checksum];
      if (!algorithm || !window.crypto || !crypto.subtle) return null; // no WebCrypto outside HTTPS
      const bytes = await blob.arrayBuffer();
      const digest = new Uint8Array(await crypto.subtle.digest(algorithm, bytes));
      let binary = "";
      for (const byte of digest) binary += String.fromCharCode(byte);
      return { header: `${this.options.checksum} ${btoa(binary)}`, bytes };
    }

    async _readable() {
      try {
        await this.file.slice(this.offset, this.offset + 1).arrayBuffer();
        return true;
      } catch {
        return false;
      }
    }

    _report(sent) {
      if (this.options.onProgress) this.options.onProgress(sent, this.file.size);
    }

    /* Wait before the next attempt: as long as the server said (Retry-After),
       else the next delay in the list (the last one again and again once the
       list is used up), or until the browser is back online, whichever comes
       first. Offline, only "online" wakes us. */
    async _backOff(run, attempt, error) {
      const delays = this.options.retryDelays;
      const delay = error.retryAfter ?? delays[Math.min(attempt, delays.length - 1)];
      const offline = navigator.onLine === false;
      if (this.options.onRetry) this.options.onRetry(offline ? null : delay, error);
      await new Promise((resolve) => {
        let timer = 0;
        const wake = () => {
          clearTimeout(timer);
          window.removeEventListener("online", wake);
          if (this._wake === wake) this._wake = null;
          resolve();
        };
        this._wake = wake;
        window.addEventListener("online", wake);
        if (!offline) timer = setTimeout(wake, delay);
      });
      if (run === this._run && navigator.onLine === false) {
        // The timer went off while offline: keep waiting for the network.
        await this._backOff(run, attempt, error);
      }
    }

    _succeed(run) {
      if (run !== this._run) return;
      this._settle();
      this._forget();
      this._release();
      if (this.options.onSuccess) this.options.onSuccess({ url: this.url, fileId: this.fileId });
    }

    /* A refusal that waiting will not change. Signed out or forbidden (401,
       403) keeps the upload for later, as does `keep`; anything else is dropped
       on the server too, so that it does not hold quota until it expires. */
    _fail(run, error, { keep = false } = {}) {
      if (run !== this._run) return;
      this._settle();
      const status = error instanceof TusError ? error.status : 0;
      if (this.url && !keep && status !== 401 && status !== 403) {
        const url = this.url;
        this._forget();
        this.url = null;
        terminate(url, this.options.headers).catch(() => {});
      }
      this._release();
      if (this.options.onError) {
        this.options.onError(error instanceof TusError ? error : new TusError(String(error), { cause: error }));
      }
    }
  }

  window.VaultTus = {
    VERSION,
    Upload,
    TusError,
    storedUploads,
    discard,
    isGone, // (status of discard() or abort()) the upload is gone from the server
    isSupported: typeof XMLHttpRequest === "function" && typeof Blob === "function" && "slice" in Blob.prototype,
  };
})();
