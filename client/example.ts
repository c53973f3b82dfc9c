// What an SPA does with the generated client: log in, list posts, write one, and show
// a 422's field errors. `make client-check` compiles it against a client generated from
// the API's current document, so a change to the API that breaks it fails the check.
// It talks to `make run`'s demo blog.
import { client } from "./generated/client.gen";
import { authLogin, postsCreate, type PostsCreateError, postsList } from "./generated";

const tenant = "demo";
let accessToken: string | undefined;

client.setConfig({
  baseUrl: "http://127.0.0.1:8000",
  // Asked for each route that takes a token; `undefined` sends none.
  auth: (scheme) => (scheme.scheme === "bearer" ? accessToken : undefined),
});

/** `detail` for the user; for a 422, each field's problem too (`loc` ends with the field).
 * Every operation's errors share this shape (`code`, `detail`, `errors`). */
function describe(error: PostsCreateError): string {
  const fields = (error.errors ?? []).map((field) => `${field.loc.join(".")}: ${field.msg}`);
  return [`${error.code}: ${error.detail}`, ...fields].join("\n  ");
}

async function main(): Promise<void> {
  const login = await authLogin({
    path: { tenant },
    body: { username: "owner@demo.example", password: "demo-password" },
  });
  if (login.error) {
    throw new Error(`login refused: ${describe(login.error)}`);
  }
  accessToken = login.data.access_token;

  const page = await postsList({ path: { tenant }, query: { limit: 5, order: "newest" } });
  if (page.data) {
    for (const post of page.data.items) {
      const author = post.author?.username ?? "a deleted account";
      console.log(`${post.published_at}  ${post.title} by ${author}`);
    }
    console.log(`${page.data.total} in all; next page: ${page.data.next ?? "none"}`);
  }

  const created = await postsCreate({
    path: { tenant },
    body: {
      title: "Hello from TypeScript",
      body: "Typed all the way.",
      tags: ["typescript"],
      status: "published",
    },
  });
  if (created.data) {
    console.log(`created ${created.data.slug} (${created.data.status})`);
  }

  // A title of white space only: the API answers 422 with the field named in `errors`.
  const refused = await postsCreate({ path: { tenant }, body: { title: "   ", body: "x" } });
  if (refused.error && refused.response?.status === 422) {
    const titleProblem = refused.error.errors?.find((field) => field.loc.at(-1) === "title");
    console.log(`refused (${refused.error.code}): ${titleProblem?.msg ?? refused.error.detail}`);
  } else if (refused.error) {
    throw new Error(describe(refused.error));
  }
}

main().catch((error: unknown) => console.error(error));
