"""API rate limits counted with one atomic increment a request.

DRF's own throttles keep the timestamp of every request of the last period in
one cache entry, read and rewrite it whole on each request: at the allowed
6,000 a minute that list is re-pickled and sent to Redis 100 times a second,
and two requests at once can each drop the other's entry. Here each caller
has a counter per fixed period; the first request of a period creates it.
A caller may send up to twice the rate across a period boundary, which a
limit against runaway scripts can afford. With Redis the count and its expiry
take one round trip; other caches (the demo's memory) go through Django's API.
"""

import functools

import redis
from django.conf import settings
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle


@functools.cache
def _redis():
    return redis.Redis.from_url(settings.REDIS_URL) if settings.REDIS_URL else None


class CountingRateThrottle(SimpleRateThrottle):
    def allow_request(self, request, view):
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        period = int(self.now // self.duration)
        key = f"{self.key}:{period}"
        # One second longer than the period: the counter outlives it, never the reverse.
        client = _redis()
        if client is not None:
            count, _expiry_set = client.pipeline().incr(key).expire(key, self.duration + 1, nx=True).execute()
        else:
            self.cache.add(key, 0, self.duration + 1)
            try:
                count = self.cache.incr(key)
            except ValueError:  # expired between add and incr
                self.cache.add(key, 1, self.duration + 1)
                count = 1
        self.reset_in = (period + 1) * self.duration - self.now
        return count <= self.num_requests

    def wait(self):
        return self.reset_in


class UserThrottle(CountingRateThrottle, UserRateThrottle):
    pass


class AnonThrottle(CountingRateThrottle, AnonRateThrottle):
    pass
