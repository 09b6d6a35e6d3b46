from tests.support import Api


def test_registered_user_can_add_and_list_items(any_api: Api) -> None:
    _, token = any_api.new_user()
    created = any_api.post("/v1/watchlists/items", token=token, json={"title": "Alien", "type": "movie", "year": 1979})
    assert created.status == 201, created.body
    listed = any_api.get("/v1/watchlists", token=token)
    assert listed.status == 200
    assert [item["title"] for item in listed.json()["items"]] == ["Alien"]
    assert listed.json()["total"] == 1
