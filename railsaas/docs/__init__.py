"""The public documentation at /docs: customer-facing pages written in Markdown, shipped in
the package (`pages/*.md`), rendered, ordered and searched here.

- `pages/*.md`: one page each, named by its slug, with a front matter block giving its
  `title`, `order` (its place in the sidebar and in prev/next) and a one-line `summary`.
  `{{name}}` placeholders in the text become values from the app's settings
  (`library.settings_values`: BASE_URL, SUPPORT_EMAIL, prices with USAGE_MARKUP_PERCENT,
  grace periods, link lifetimes, rate limits), so a curl example names the host it runs on
  and a number on a page is the number the product uses.
- `library`: reads the pages once per process (and per pair of those settings), renders them
  with markdown-it-py (CommonMark and tables; raw HTML in a page is escaped, not passed
  through, and links are checked by markdown-it's own URL validation), gives every heading
  an id for anchors and the page's table of contents, and answers searches over the pages'
  text (every word of the query must occur; title and headings weigh more than body text).

Reads no database (the pages are the same for everyone, signed in or not); imports only
errors and billing's unit prices. `tests/docs` renders every page, follows every internal link
and anchor, and checks that the routes the pages name exist in the app.
"""
