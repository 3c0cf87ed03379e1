"""The service: an HTTP API over the pipeline, a job queue kept in the database, and the
review and overview pages.

Uploads become jobs in the ``job`` table; any number of ``extractor serve`` or
``extractor worker`` processes on one database take them with a lease, so a job whose
process died is taken up again and no job is finished twice. Jobs run the same steps as
``extractor run``; the review page shows every value where it stands on its page, with
the checks it takes part in, and turns a reviewer's corrections into gold files.
"""
