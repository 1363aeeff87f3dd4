"""The period of the Usage panels: whole days in the user's time zone, this month by default."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django import forms
from django.utils import timezone

MAX_DAYS = 3660
# The days a period may cover: the day after the last one, and both ends in any time zone, must
# still be dates Python and the database can hold.
EARLIEST = date(1970, 1, 1)
LATEST = date.max - timedelta(days=1)


def this_month() -> tuple[date, date]:
    today = timezone.localdate()
    return today.replace(day=1), today


class UsagePeriodForm(forms.Form):
    start = forms.DateField(
        label="From", widget=forms.DateInput(attrs={"type": "date", "class": "form-control"})
    )
    end = forms.DateField(label="To", widget=forms.DateInput(attrs={"type": "date", "class": "form-control"}))

    def __init__(self, data=None):
        first, today = this_month()
        given = data if data and ("start" in data or "end" in data) else None
        super().__init__(given, initial={"start": first, "end": today})

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        for name, day in (("start", start), ("end", end)):
            if day and not EARLIEST <= day <= LATEST:
                self.add_error(name, f"Choose a day from {EARLIEST.isoformat()} to {LATEST.isoformat()}.")
                return data
        if start and end and end < start:
            raise forms.ValidationError("The end of the period cannot come before its start.")
        if start and end and (end - start).days > MAX_DAYS:
            raise forms.ValidationError(f"A period is at most {MAX_DAYS} days.")
        return data

    def period(self) -> tuple[datetime, datetime]:
        """[start of the first day, end of the last day), in the current time zone; this month
        when the form was not filled in or is not valid."""
        if self.is_bound and self.is_valid():
            first, last = self.cleaned_data["start"], self.cleaned_data["end"]
        else:
            first, last = this_month()
        zone = timezone.get_current_timezone()
        start = datetime.combine(first, time.min, tzinfo=zone)
        stop = datetime.combine(last + timedelta(days=1), time.min, tzinfo=zone)
        return start, stop
