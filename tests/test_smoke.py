import io


def test_first_run_then_upload_and_download(client, auth, app):
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/setup")
    from tests.conftest import csrf_token_from

    token = csrf_token_from(client.get("/setup").get_data(as_text=True))
    response = client.post(
        "/setup",
        data={
            "email": "Admin@Example.com",
            "password": "long enough pw",
            "confirm": "long enough pw",
            "csrf_token": token,
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    page = client.get("/").get_data(as_text=True)
    token = csrf_token_from(page)
    response = client.post(
        "/upload",
        data={
            "files": [(io.BytesIO(b"abc"), "a.txt"), (io.BytesIO(b"defg"), "b.md")],
            "csrf_token": token,
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    page = client.get("/").get_data(as_text=True)
    assert "a.txt" in page and "b.md" in page
