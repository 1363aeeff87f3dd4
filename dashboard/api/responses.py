from django.http import HttpResponse


def empty(status: int = 204) -> HttpResponse:
    """A bodiless answer without a JSON Content-Type: glanceclient and others json-decode any body
    labelled JSON, even an empty one."""
    response = HttpResponse(status=status)
    del response["Content-Type"]
    return response
