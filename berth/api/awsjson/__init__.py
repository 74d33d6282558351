"""The AWS JSON 1.1 protocol (`POST /` with `X-Amz-Target`), for any service botocore models:
ECR, and the CloudTrail, CloudWatch Logs and EventBridge subsets."""
