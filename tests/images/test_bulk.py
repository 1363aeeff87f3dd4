"""Bulk actions on images (dashboard.bulk with images.bulk): "all matching" fixes the items from
the panel's filter, the worker checks policy per item with the roles of the moment, settles each
item once, and a job whose worker died is resumed without redoing what was done."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from dashboard import bulk
from dashboard.models import BulkItemStatus, BulkJob, BulkJobStatus, Project, Role, RoleAssignment, User
from images.bulk import KIND
from images.choices import ImageStatus, Visibility
from images.models import Image
from tests.factories import make_project, make_user
from tests.images.test_views import image, login
from tests.pages import matching_fields

pytestmark = pytest.mark.django_db


@pytest.fixture
def home():
    return make_project("home")


@pytest.fixture
def member(client, home):
    user = make_user("mia", roles={home: "member"})
    login(client, user)
    return user


def make_images(owner, count: int, prefix: str, **fields) -> list[Image]:
    return [image(owner, f"{prefix}-{n:03d}", status=ImageStatus.ACTIVE, **fields) for n in range(count)]


def start(client, path: str, data: dict, capture) -> BulkJob:
    with capture() as sent:
        response = client.post(path, {**data, "confirm": "1"})
    job = BulkJob.objects.latest("created_at")
    assert response.url == reverse("bulk-job", args=[job.pk])
    assert [c.args[0] for c in sent] == ["dashboard.bulk_run"] and c_args(sent) == [[str(job.pk)]]
    return job


def c_args(sent) -> list:
    return [c.keywords["args"] for c in sent]


def test_all_matching_covers_every_page_of_the_filter_and_nothing_else(
    client, member, home, django_capture_on_commit_callbacks
):
    make_images(home, 60, "batch")
    make_images(home, 4, "other")
    listing = client.get(reverse("images"), {"name": "batch"}).content.decode()
    assert 'data-total="60"' in listing and "Select all 60 matching images" in listing
    confirm = client.get(reverse("image-delete"), {"all": "1", "name": "batch"}).content.decode()
    assert "all 60 images matching the filter" in confirm and "and 10 more" in confirm
    job = start(
        client, reverse("image-delete"), {"all": "1", "name": "batch"}, django_capture_on_commit_callbacks
    )
    assert job.total == 60 and job.items.count() == 60
    assert bulk.run_job(str(job.pk)) == "done"
    assert Image.objects.filter(name__startswith="batch", status=ImageStatus.DELETED).count() == 60
    assert Image.objects.filter(name__startswith="other").exclude(status=ImageStatus.DELETED).count() == 4


def test_policy_is_checked_per_item_with_the_roles_of_the_moment(
    client, member, home, django_capture_on_commit_callbacks
):
    make_images(home, 3, "img")
    job = start(
        client, reverse("image-bulk", args=["deactivate"]), {"all": "1"}, django_capture_on_commit_callbacks
    )
    # Demoted to reader after confirming: the worker refuses every item, with the reason.
    RoleAssignment.objects.filter(user=member).delete()
    RoleAssignment.objects.create(user=member, project=home, role=Role.objects.get(name="reader"))
    assert bulk.run_job(str(job.pk)) == "done"
    results = set(job.items.values_list("status", "message"))
    assert results == {(BulkItemStatus.REFUSED, "Policy doesn't allow deactivate to be performed.")}
    assert not Image.objects.filter(status=ImageStatus.DEACTIVATED).exists()


def demoting_after_first(monkeypatch, change) -> None:
    """Deactivate as the panel does, but ``change`` the user's standing once the first item is done."""
    real = bulk.action_for(KIND, "deactivate")
    done = []

    def run(ctx, image_id, params):
        note = real.run(ctx, image_id, params)
        if not done:
            done.append(image_id)
            change(ctx.user)
        return note

    monkeypatch.setitem(bulk._actions, (KIND, "deactivate"), replace(real, run=run))


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            lambda user: RoleAssignment.objects.filter(user=user).update(
                role=Role.objects.get(name="reader")
            ),
            "Policy doesn't allow deactivate to be performed.",
        ),
        (
            lambda user: RoleAssignment.objects.filter(user=user).delete(),
            "The user who started the job no longer exists or has no access.",
        ),
        (
            lambda user: User.objects.filter(pk=user.pk).update(is_active=False),
            "The user who started the job no longer exists or has no access.",
        ),
        (
            lambda user: Project.objects.filter(pk=user.default_project_id).update(enabled=False),
            "The user who started the job no longer exists or has no access.",
        ),
    ],
    ids=["demoted", "removed", "disabled", "project-disabled"],
)
def test_a_user_demoted_mid_run_is_refused_from_the_next_item(
    client, member, home, django_capture_on_commit_callbacks, monkeypatch, change, reason
):
    make_images(home, 4, "img")
    job = start(
        client, reverse("image-bulk", args=["deactivate"]), {"all": "1"}, django_capture_on_commit_callbacks
    )
    demoting_after_first(monkeypatch, change)
    assert bulk.run_job(str(job.pk)) == "done"
    results = list(job.items.order_by("position").values_list("status", "message"))
    assert results == [(BulkItemStatus.DONE, "")] + [(BulkItemStatus.REFUSED, reason)] * 3
    assert Image.objects.filter(status=ImageStatus.DEACTIVATED).count() == 1


def test_visibility_changes_each_image_and_notes_those_already_so(
    client, member, home, django_capture_on_commit_callbacks
):
    make_images(home, 2, "img")
    image(home, "shared-one", status=ImageStatus.ACTIVE, visibility=Visibility.SHARED)
    job = start(
        client,
        reverse("image-bulk", args=["visibility"]),
        {"all": "1", "to": "shared"},
        django_capture_on_commit_callbacks,
    )
    assert job.label == "Make images shared"
    bulk.run_job(str(job.pk))
    assert set(Image.objects.values_list("visibility", flat=True)) == {Visibility.SHARED}
    assert job.items.get(name="shared-one").message == "Already shared."
    # Making them public needs publicize_image, which a member does not have.
    job = start(
        client,
        reverse("image-bulk", args=["visibility"]),
        {"all": "1", "to": "public"},
        django_capture_on_commit_callbacks,
    )
    bulk.run_job(str(job.pk))
    assert set(job.items.values_list("status", flat=True)) == {BulkItemStatus.REFUSED}


def test_a_job_whose_worker_died_resumes_without_redoing_settled_items(
    client, member, home, django_capture_on_commit_callbacks
):
    images = make_images(home, 5, "img")
    job = start(client, reverse("image-delete"), {"all": "1"}, django_capture_on_commit_callbacks)
    # A first worker settled two items, then died holding the lease.
    first_two = list(job.items.order_by("position")[:2])
    long_ago = timezone.now() - timedelta(hours=1)
    for item in first_two:
        Image.objects.filter(pk=item.target_id).update(status=ImageStatus.DELETED)
        item.status, item.finished_at, item.message = BulkItemStatus.DONE, long_ago, "first run"
        item.save()
    BulkJob.objects.filter(pk=job.pk).update(
        status=BulkJobStatus.RUNNING, lease_owner="dead-worker", lease_until=timezone.now() + bulk.LEASE
    )
    # While its lease lasts, another run waits (the task retries later) and changes nothing.
    assert bulk.run_job(str(job.pk)) == "busy"
    assert job.items.filter(status=BulkItemStatus.PENDING).count() == 3
    assert bulk.stale_jobs() == []
    # Once it has expired, the job is stale and the next run takes over from the first pending item.
    BulkJob.objects.filter(pk=job.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    assert bulk.stale_jobs() == [str(job.pk)]
    assert bulk.run_job(str(job.pk)) == "done"
    assert set(job.items.filter(pk__in=[i.pk for i in first_two]).values_list("message", "finished_at")) == {
        ("first run", long_ago)
    }
    assert job.items.filter(status=BulkItemStatus.DONE).count() == 5
    assert Image.objects.filter(pk__in=[i.pk for i in images], status=ImageStatus.DELETED).count() == 5
    # A second delivery of the same message finds the job finished.
    assert bulk.run_job(str(job.pk)) == "done"
    assert BulkJob.objects.get(pk=job.pk).status == BulkJobStatus.DONE


def test_an_item_repeated_after_a_crash_is_not_reported_as_a_failure(
    client, member, home, django_capture_on_commit_callbacks
):
    """The worker died after deleting the image but before recording the item: the repeat says so."""
    (img,) = make_images(home, 1, "img")
    job = start(client, reverse("image-delete"), {"all": "1"}, django_capture_on_commit_callbacks)
    Image.objects.filter(pk=img.pk).update(status=ImageStatus.DELETED)
    bulk.run_job(str(job.pk))
    assert job.items.get().status == BulkItemStatus.DONE and job.items.get().message == "Already deleted."


def test_only_its_user_or_an_admin_sees_a_job(client, member, home, django_capture_on_commit_callbacks):
    make_images(home, 1, "img")
    job = start(client, reverse("image-delete"), {"all": "1"}, django_capture_on_commit_callbacks)
    assert client.get(reverse("bulk-job", args=[job.pk])).status_code == 200
    client.logout()
    login(client, make_user("other", roles={home: "member"}))
    assert client.get(reverse("bulk-job", args=[job.pk])).status_code == 404
    client.logout()
    login(client, make_user("root", roles={make_project("ops"): "admin"}))
    assert client.get(reverse("bulk-job", args=[job.pk])).status_code == 200


def test_the_progress_page_polls_until_the_job_is_finished(
    client, member, home, django_capture_on_commit_callbacks
):
    make_images(home, 2, "img")
    job = start(client, reverse("image-delete"), {"all": "1"}, django_capture_on_commit_callbacks)
    waiting = client.get(reverse("bulk-job", args=[job.pk]), HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" in waiting and "0 of 2" in waiting and "<html" not in waiting
    bulk.run_job(str(job.pk))
    done = client.get(reverse("bulk-job", args=[job.pk])).content.decode()
    assert "Finished · 2 of 2" in done and "hx-trigger" not in done.split('data-testid="bulk-job"')[1][:300]


def test_admin_all_matching_carries_every_filter_of_the_page(
    client, home, django_capture_on_commit_callbacks
):
    """Admin → Images filtered by project, format and name: the hidden "all matching" fields name
    every filter, and the job acts on exactly the images the page counts."""
    other = make_project("other")
    make_images(home, 3, "web", disk_format="qcow2")
    make_images(home, 2, "web", disk_format="raw")
    make_images(other, 4, "web", disk_format="qcow2")
    login(client, make_user("root", roles={make_project("ops"): "admin"}))
    query = {"owner": home.pk, "disk_format": "qcow2", "name": "web"}
    listing = client.get(reverse("admin-images"), query).content.decode()
    assert 'data-total="3"' in listing
    fields = matching_fields(listing)  # what the browser posts after "Select all 3 matching"
    assert {k: v for k, v in fields if k in query} == query
    job = start(client, reverse("image-delete"), dict(fields), django_capture_on_commit_callbacks)
    assert job.total == 3
    wanted = Image.objects.filter(owner=home.pk, disk_format="qcow2").values_list("pk", flat=True)
    assert set(job.items.values_list("target_id", flat=True)) == {str(pk) for pk in wanted}
