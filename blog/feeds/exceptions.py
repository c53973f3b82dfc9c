from blog.errors import NotFound


class SitemapNotFound(NotFound):
    code = "sitemap_not_found"
    detail = "No such sitemap: the blog's sitemap index lists its sitemaps."
