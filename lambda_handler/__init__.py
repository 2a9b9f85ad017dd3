"""The Fibonacci Lambda function. Standard library only."""
