package dev.tessera.gateway.edge;

import java.util.function.LongSupplier;

/**
 * A token bucket: holds at most {@code capacity}, refills at {@code perSecond}, starts full. {@link #tryTake} takes
 * what it holds; {@link #spend} may take it below zero (tokens already generated are owed), and {@link #positive}
 * says whether it holds anything, {@link #nanosUntil} when it will hold some amount.
 * Thread-safe.
 */
final class TokenBucket {
    private final double capacity;
    private final double perNano;
    private final LongSupplier clock;
    private double level;
    private long at;

    TokenBucket(double capacity, double perSecond, LongSupplier nanoClock) {
        this.capacity = capacity;
        this.perNano = perSecond / 1e9;
        this.clock = nanoClock;
        this.level = capacity;
        this.at = nanoClock.getAsLong();
    }

    /** Takes {@code n} if the bucket holds that much; false otherwise. */
    synchronized boolean tryTake(double n) {
        refill();
        if (level < n) return false;
        level -= n;
        return true;
    }

    /** Whether the bucket holds more than nothing. */
    synchronized boolean positive() {
        refill();
        return level > 0;
    }

    /** Takes {@code n}, even below zero. */
    synchronized void spend(double n) {
        refill();
        level -= n;
    }

    /** Nanoseconds until the bucket holds {@code n} (at most its capacity); 0 when it does now. */
    synchronized long nanosUntil(double n) {
        refill();
        double target = Math.min(n, capacity);
        return level >= target ? 0 : (long) Math.ceil((target - level) / perNano);
    }

    private void refill() {
        long now = clock.getAsLong();
        level = Math.min(capacity, level + (now - at) * perNano);
        at = now;
    }
}
