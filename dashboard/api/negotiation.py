from rest_framework.negotiation import DefaultContentNegotiation


class EmptyAcceptNegotiation(DefaultContentNegotiation):
    """openstacksdk sends an empty ``Accept`` header; HTTP says that means anything."""

    def get_accept_list(self, request):
        header = request.META.get("HTTP_ACCEPT", "").strip() or "*/*"
        return [token.strip() for token in header.split(",")]
