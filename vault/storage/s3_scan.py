"""Listing, moving and bulk deletes in a bucket: what fsck and purges need.

Listings are paginated and streamed (a page of 1,000 keys at a time); only
the namespaces, one per account, are held in memory.
"""

from collections.abc import Iterable, Iterator
from datetime import datetime

from vault.storage.base import KEY_PART, LOST_FOUND, StoredEntry, check_entry_name
from vault.storage.s3_writers import STATE_PREFIX

DELETE_BATCH = 1000  # DeleteObjects takes at most this many keys


def _naive_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=None) if moment.tzinfo else moment


def _pages(store, operation: str, **options) -> Iterator[dict]:
    paginator = store.client.get_paginator(operation)
    yield from paginator.paginate(Bucket=store.name, **options)


def object_keys(store, begins: str) -> Iterator[str]:
    for page in _pages(store, "list_objects_v2", Prefix=begins):
        for item in page.get("Contents", []):
            yield item["Key"]


def delete_objects(store, keys: Iterable[str]) -> None:
    batch: list[str] = []
    for key in keys:
        batch.append(key)
        if len(batch) == DELETE_BATCH:
            _delete_batch(store, batch)
            batch = []
    if batch:
        _delete_batch(store, batch)


def _delete_batch(store, keys: list[str]) -> None:
    answer = store.client.delete_objects(
        Bucket=store.name,
        Delete={"Objects": [{"Key": key} for key in keys], "Quiet": True},
    )
    if answer.get("Errors"):
        error = answer["Errors"][0]
        raise OSError(f"could not delete {error['Key']}: {error.get('Message')}")


def uploads(store, begins: str) -> Iterator[dict]:
    """Yield the multipart uploads in progress whose key begins so."""
    for page in _pages(store, "list_multipart_uploads", Prefix=begins):
        yield from page.get("Uploads", [])


def abort_uploads(store, begins: str) -> None:
    for upload in uploads(store, begins):
        store.client.abort_multipart_upload(
            Bucket=store.name, Key=upload["Key"], UploadId=upload["UploadId"]
        )


def _children(store, area: str) -> set[str]:
    """Return the names of the sub-areas directly under `area`."""
    names = set()
    for page in _pages(store, "list_objects_v2", Prefix=area, Delimiter="/"):
        for common in page.get("CommonPrefixes", []):
            names.add(common["Prefix"][len(area) : -1])
    return names


def scan(store) -> Iterator[StoredEntry]:
    """Yield every namespace, then what it holds; see BlobStore.scan."""
    top = store._area()
    found = _children(store, top)
    # Unfinished uploads are few; not every server groups them by prefix.
    found |= {
        upload["Key"][len(top) :].split("/", 1)[0]
        for upload in uploads(store, top)
        if "/" in upload["Key"][len(top) :]
    }
    for name in sorted(found):
        if name == LOST_FOUND:
            continue
        if KEY_PART.fullmatch(name):
            yield StoredEntry(StoredEntry.NAMESPACE, name, None, is_dir=True)
            yield from _scan_namespace(store, name)
        else:
            yield StoredEntry(StoredEntry.STRAY, None, name, is_dir=True)
    for page in _pages(store, "list_objects_v2", Prefix=top, Delimiter="/"):
        for item in page.get("Contents", []):
            yield _entry(StoredEntry.STRAY, None, item["Key"][len(top) :], item)


def _entry(kind, namespace, name, item, upload_id=None) -> StoredEntry:
    modified = _naive_utc(item["LastModified"])
    return StoredEntry(
        kind,
        namespace,
        name,
        size=item["Size"],
        modified_at=modified,
        changed_at=modified,
        upload_id=upload_id,
    )


def _kind(name: str) -> tuple[str, str | None]:
    if KEY_PART.fullmatch(name):
        return StoredEntry.BLOB, None
    if name.startswith(STATE_PREFIX):
        upload_id, _, offset = name.removeprefix(STATE_PREFIX).partition(".")
        if KEY_PART.fullmatch(upload_id) and offset.isdigit():
            return StoredEntry.RESUMABLE, upload_id
    return StoredEntry.STRAY, None


def _scan_namespace(store, namespace: str) -> Iterator[StoredEntry]:
    area = store._area(namespace)
    resumable = set()
    for page in _pages(store, "list_objects_v2", Prefix=area, Delimiter="/"):
        for prefix in page.get("CommonPrefixes", []):
            name = prefix["Prefix"][len(area) : -1]
            if name != LOST_FOUND:
                yield StoredEntry(StoredEntry.STRAY, namespace, name, is_dir=True)
        for item in page.get("Contents", []):
            name = item["Key"][len(area) :]
            kind, upload_id = _kind(name)
            resumable.add(upload_id)
            yield _entry(kind, namespace, name, item, upload_id)
    for upload in uploads(store, area):
        name = upload["Key"][len(area) :]
        if name in resumable or not KEY_PART.fullmatch(name):
            continue  # the parts of a resumable upload, judged by its states
        started = _naive_utc(upload["Initiated"])
        yield StoredEntry(
            StoredEntry.PARTIAL,
            namespace,
            name,
            size=_parts_size(store, upload),
            modified_at=started,
            changed_at=started,
        )


def _parts_size(store, upload: dict) -> int:
    pages = _pages(store, "list_parts", Key=upload["Key"], UploadId=upload["UploadId"])
    return sum(part["Size"] for page in pages for part in page.get("Parts", []))


def _free_key(store, area: str, name: str) -> str:
    """Return `area` + `name`, or `name.1`, ... if an object is there already."""
    attempt = 0
    while True:
        key = area + (f"{name}.{attempt}" if attempt else name)
        # A listing by prefix also finds "name.1" when asked for "name".
        if key not in object_keys(store, key):
            return key
        attempt += 1


def move_object(store, key: str, area: str) -> str:
    """Copy an object into `area` under its name, then delete it; return where."""
    target = _free_key(store, area, key.rsplit("/", 1)[-1])
    store.client.copy({"Bucket": store.name, "Key": key}, store.name, target)
    store.client.delete_object(Bucket=store.name, Key=key)
    return target


def move_to_lost_found(store, namespace: str | None, name: str | None) -> str:
    """Move an entry aside; see BlobStore.move_to_lost_found."""
    if namespace is None and name is None:
        raise ValueError("nothing to move")
    if namespace is not None and name is not None:
        source = store._area(namespace) + check_entry_name(name)
        return _move(store, source, store._area(namespace, LOST_FOUND))
    source = store._area() + check_entry_name(namespace or name)
    return _move(store, source, store._area(LOST_FOUND))


def _move(store, source: str, area: str) -> str:
    """Move the object `source`, or everything under `source/`, into `area`."""
    keys = list(object_keys(store, source))
    if source in keys:
        return move_object(store, source, area)
    inside = [key for key in keys if key.startswith(source + "/")]
    if not inside:
        raise FileNotFoundError(source)
    target = _free_key(store, area, source.rsplit("/", 1)[-1])
    for key in inside:
        new_key = target + key[len(source) :]
        store.client.copy({"Bucket": store.name, "Key": key}, store.name, new_key)
        store.client.delete_object(Bucket=store.name, Key=key)
    abort_uploads(store, source + "/")
    return target


def abort_partial(store, namespace: str, name: str) -> None:
    """Abort the multipart uploads of one blob that never completed."""
    begins = store.object_key(f"{namespace}/{name}")
    found = [upload for upload in uploads(store, begins) if upload["Key"] == begins]
    if not found:
        raise FileNotFoundError(begins)
    for upload in found:
        store.client.abort_multipart_upload(
            Bucket=store.name, Key=upload["Key"], UploadId=upload["UploadId"]
        )


def lost_found_usage(store) -> tuple[int, int]:
    areas = [store._area(LOST_FOUND)]
    areas += [
        store._area(name, LOST_FOUND)
        for name in _children(store, store._area())
        if KEY_PART.fullmatch(name)
    ]
    files = size = 0
    for area in areas:
        for page in _pages(store, "list_objects_v2", Prefix=area):
            for item in page.get("Contents", []):
                files += 1
                size += item["Size"]
    return files, size
