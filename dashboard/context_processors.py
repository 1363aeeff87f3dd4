from dashboard.nav import visible_sections


def navigation(request) -> dict:
    ctx = getattr(request, "ctx", None)
    if ctx is None:
        return {}
    sections = visible_sections(ctx)
    # The active panel is the one whose URL is the longest prefix of this page's path.
    urls = [p.url for _, panels in sections for p in panels if request.path.startswith(p.url)]
    return {
        "ctx": ctx,
        "nav_sections": sections,
        "nav_active_url": max(urls, key=len) if urls else None,
        "user_projects": ctx.user.projects(),
    }
