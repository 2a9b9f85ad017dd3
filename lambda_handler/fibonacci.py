"""The exact computation: F(n) by fast doubling, O(log n) big-integer multiplications."""


def fibonacci(n: int) -> int:
    """Return F(n) exactly; F(0) = 0, F(1) = 1. ``n`` must already be checked."""
    if n < 0:
        raise ValueError(f"fibonacci is defined here for n >= 0, got {n}")
    a, b = 0, 1  # F(k), F(k + 1), with k built from n's bits, most significant first
    for bit in bin(n)[2:]:
        # F(2k) = F(k) * (2F(k+1) - F(k)); F(2k+1) = F(k)^2 + F(k+1)^2
        c = a * (2 * b - a)
        d = a * a + b * b
        a, b = (d, c + d) if bit == "1" else (c, d)
    return a
