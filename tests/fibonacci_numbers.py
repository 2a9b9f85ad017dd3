"""Reference Fibonacci numbers for assertions, computed independently of the code under test."""


def fibonacci(n: int) -> int:
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a
