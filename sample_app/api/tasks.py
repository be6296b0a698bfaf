"""Background work: tasks the API enqueues and a worker runs (`manage.py db_worker`, which the
kit runs as a service of its own: django_app_workers)."""

from django_tasks import task

from api.models import Note


@task()
def note_stats(user_id: int) -> dict[str, int]:
    """How many notes the user has, and how many words their titles and bodies hold."""
    texts = Note.objects.filter(owner_id=user_id).values_list("title", "body")
    return {"notes": len(texts), "words": sum(len(f"{t} {b}".split()) for t, b in texts)}
