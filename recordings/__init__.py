"""Call recordings: find each call's recording, transcode it, store it, keep it as long as
the retention policy says.

Modules, in the order a recording passes through them:

- ``paths``     — which PBX file names are acceptable and where the file is on this machine
- ``ingest``    — domain events and the spool directory → jobs in the database
- ``jobs``      — the persistent job queue (``models`` holds the tables)
- ``worker``    — readiness checks (file complete, size stable) and the bounded audio pool
- ``audio``     — ffmpeg: transcode, duration, waveform peaks
- ``storage``   — where processed recordings live (local folders now; an S3 store later)
- ``retention`` — the daily purge, legal holds, the audit trail
- ``views``     — the ``"recording"`` object in the call record JSON
- ``service``   — the composition of the above that ``trubka.app`` starts and stops
"""
