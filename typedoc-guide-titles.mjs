// A typedoc plugin: each guide in docs/guides is listed under the "# " heading it opens with, as GitHub shows it,
// instead of its file name. Its page keeps the file name in its URL (documents/fleet.html), so links to a guide
// do not change with its title. A guide whose front matter sets `title` keeps that title.
import { basename, extname } from "node:path"
import { Comment, ReflectionKind, RendererEvent } from "typedoc"

/** @param {import("typedoc").DocumentReflection} document */
const titleOf = (document) => {
  const path = document.project.files.getReflectionPath(document)
  // typedoc names a document after its file unless the front matter gave a title.
  if (path === undefined || document.name !== basename(path, extname(path))) return undefined
  const firstLine = Comment.combineDisplayParts(document.content).trimStart().split("\n", 1)[0]
  const heading = /^#[ \t]+(.+?)[ \t#]*$/.exec(firstLine)
  return heading === null ? undefined : heading[1].replaceAll("`", "")
}

/** @param {import("typedoc").Application} app */
export const load = (app) => {
  // Pages and their URLs exist by now; the navigation, the search index and the pages are rendered after.
  app.renderer.on(RendererEvent.BEGIN, (event) => {
    for (const document of event.project.getReflectionsByKind(ReflectionKind.Document)) {
      const title = titleOf(/** @type {import("typedoc").DocumentReflection} */ (document))
      if (title !== undefined) document.name = title
    }
  })
}
