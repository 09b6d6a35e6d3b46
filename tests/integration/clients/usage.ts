// Code a TypeScript client of the API would write with the types openapi-typescript makes of the OpenAPI document
// (tests/integration/test_generated_clients.py compiles it with tsc --strict, beside the generated watchlist.d.ts).
import type { components, operations, paths } from "./watchlist";

type Schemas = components["schemas"];

const login: paths["/v1/auth/login"]["post"]["requestBody"]["content"]["application/json"] = {
  email: "reader@example.com",
  password: "correct horse",
};
const tokens: operations["login"]["responses"][200]["content"]["application/json"] = {
  access_token: "a",
  token_type: "bearer",
  expires_in: 900,
  refresh_token: "r",
};
const draft: Schemas["ItemDraft"] = { title: "Arrival", type: "movie", year: 2016 };
const ifMatch: operations["change_item"]["parameters"]["header"] = { "if-match": '"1"' };
const problem: Schemas["Problem"] = {
  type: "about:blank",
  title: "Precondition Failed",
  status: 412,
  detail: "The item changed since it was read.",
  instance: "/v1/watchlists/items/01H",
  request_id: "req-1",
};

function title(item: Schemas["WatchlistItem"]): string {
  return `${item.title} (${item.year ?? "?"})`;
}

export { draft, ifMatch, login, problem, title, tokens };
