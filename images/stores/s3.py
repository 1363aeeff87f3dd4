"""Images as objects in any S3-compatible service (boto3), written with multipart uploads."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from images.stores.base import ImageStore, StoreError
from images.stores.filesystem import safe_key

# botocore's DEBUG records carry signed request headers (the access key id and signatures): these
# loggers stay at WARNING whatever the root level is, so a debugging operator leaks no credentials.
for _name in ("botocore", "boto3", "s3transfer"):
    logging.getLogger(_name).setLevel(logging.WARNING)

PART_SIZE = 8 * 1024 * 1024  # S3 needs parts of at least 5 MiB (except the last); each is held once


class S3Store(ImageStore):
    def __init__(self, name: str, bucket: str, *, endpoint_url: str | None = None, access_key=None,
                 secret_key=None, region: str | None = None, prefix: str = "images/",
                 description: str = "S3 object storage"):  # fmt: skip
        self.name, self.description, self.bucket, self.prefix = name, description, bucket, prefix
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint_url or None,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            region_name=region,
            config=Config(retries={"max_attempts": 3}, connect_timeout=10, read_timeout=60),
        )

    def _key(self, key: str) -> str:
        return self.prefix + safe_key(key)

    def put(self, key: str, chunks: Iterable[bytes]) -> int:
        obj = self._key(key)
        try:
            upload = self.client.create_multipart_upload(Bucket=self.bucket, Key=obj)
        except (BotoCoreError, ClientError) as exc:
            raise StoreError(f"S3 store {self.name!r} refused the upload ({type(exc).__name__}).") from exc
        upload_id, parts, buffer, written = upload["UploadId"], [], bytearray(), 0
        try:
            for chunk in chunks:
                buffer += chunk
                written += len(chunk)
                if len(buffer) >= PART_SIZE:
                    parts.append(self._part(obj, upload_id, len(parts) + 1, bytes(buffer)))
                    buffer.clear()
            if buffer or not parts:
                parts.append(self._part(obj, upload_id, len(parts) + 1, bytes(buffer)))
            self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=obj, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
        except (BotoCoreError, ClientError) as exc:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=obj, UploadId=upload_id)
            raise StoreError(f"S3 store {self.name!r} failed while writing ({type(exc).__name__}).") from exc
        except BaseException:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=obj, UploadId=upload_id)
            raise
        return written

    def _part(self, obj: str, upload_id: str, number: int, data: bytes) -> dict:
        result = self.client.upload_part(
            Bucket=self.bucket, Key=obj, UploadId=upload_id, PartNumber=number, Body=data
        )
        return {"ETag": result["ETag"], "PartNumber": number}

    def get(self, key: str, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        kwargs = {"Bucket": self.bucket, "Key": self._key(key)}
        if offset or length is not None:
            end = "" if length is None else str(offset + length - 1)
            kwargs["Range"] = f"bytes={offset}-{end}"
        try:
            body = self.client.get_object(**kwargs)["Body"]
        except (BotoCoreError, ClientError) as exc:
            raise StoreError(f"S3 store {self.name!r} could not read the image.") from exc
        return self._stream(body)

    def _stream(self, body) -> Iterator[bytes]:
        # A connection that breaks half way is the store's error, like one that never opened.
        try:
            yield from body.iter_chunks(chunk_size=PART_SIZE // 4)
        except (BotoCoreError, ClientError) as exc:
            raise StoreError(f"S3 store {self.name!r} failed while reading the image.") from exc
        finally:
            body.close()

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))
        except (BotoCoreError, ClientError) as exc:
            raise StoreError(f"S3 store {self.name!r} could not delete the image.") from exc

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            # Denied, throttled …: that says nothing about whether the object is there.
            raise StoreError(f"S3 store {self.name!r} could not tell whether the image is there.") from exc
        except BotoCoreError as exc:
            raise StoreError(f"S3 store {self.name!r} could not be reached.") from exc
        return True

    def keys(self) -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
            for item in page.get("Contents", []):
                yield item["Key"][len(self.prefix) :]
