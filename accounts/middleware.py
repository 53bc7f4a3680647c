from django.utils import translation


class PreferredLanguageMiddleware:
    """Show a logged-in holder the site in the language on their profile.

    Runs after LocaleMiddleware and AuthenticationMiddleware: anonymous visitors keep the language
    LocaleMiddleware negotiated (the footer switch's cookie, then the browser's Accept-Language).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and getattr(user, "preferred_language", ""):
            translation.activate(user.preferred_language)
            request.LANGUAGE_CODE = translation.get_language()
        return self.get_response(request)
