from django.core.files.storage import FileSystemStorage


class MetadataFailingStorage(FileSystemStorage):
    """A filesystem storage whose writes of `.metadata` objects fail, like an outage mid-upload."""

    def _save(self, name, content):
        if name.endswith(".metadata"):
            raise OSError("storage unavailable")
        return super()._save(name, content)
