"""What stands in for AWS in this lab: STS ``GetCallerIdentity`` that verifies SigV4 as AWS
does (``sigv4``, ``sts``, ``sts_http``), the local AWS identities and their keys
(``identities``), and the EC2 instance metadata service, IMDSv2 (``imds``, ``imds_http``)."""
