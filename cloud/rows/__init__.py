"""The rows step: a batch exploded into one row per reading and window, written to the stores.

AWS's rule actions act once per message, so a batch becomes rows in an explicit step that runs
the same code in both places: :class:`~cloud.rows.processor.RowsProcessor` on the local stream,
and :mod:`cloud.rows.aws_lambda` as the Lambda function on the Kinesis stream (time-series
store, current state) or as the Firehose transformation in front of the Parquet lake.
"""
