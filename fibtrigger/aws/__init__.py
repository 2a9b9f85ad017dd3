"""Deploy fibtrigger to AWS: the Lambda function, an IAM-authorized REST API, the callers'
IAM group and, optionally, an Aurora MySQL cluster's access to the function.

Python twins of ``fibtrigger aws plan | deploy | destroy`` live in ``fibtrigger.aws.deploy``::

    from fibtrigger.aws.deploy import deploy
    from fibtrigger.aws.stack import StackSettings
    report = deploy(StackSettings(name="fibtrigger", stage="test", cluster="my-aurora"))
    print(report.invoke_url, report.function_arn, report.next_command)
"""
