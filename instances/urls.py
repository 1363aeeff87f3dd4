"""Dashboard pages of the instances app."""

urlpatterns: list = []
