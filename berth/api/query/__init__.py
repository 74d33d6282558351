"""The AWS Query protocol, the wire format of IAM and STS: form-encoded `Action=...&Version=...`
requests in, XML documents out, both driven by botocore's service model."""
