package dev.tessera.gateway.edge;

/**
 * One client connection's upload budget ({@link UploadRate}): the bytes it reads are spent from a token bucket,
 * and when the bucket is in debt its reader pauses until the bucket holds {@link #RESUME_AT} again (a timer on the
 * reader's event loop, {@link UploadPacing.Delay}), so that a paced connection is woken a few dozen times a second, not once per frame. Used on
 * the connection's event loop; the bucket itself is thread-safe.
 */
public final class UploadMeter {
    /** Bytes a paused connection's bucket refills to before its reading resumes (at most the burst). */
    static final int RESUME_AT = 1 << 20;

    private final UploadPacing.Delay delay;
    private final TokenBucket bucket;
    private final Runnable paused;

    UploadMeter(UploadPacing.Delay delay, TokenBucket bucket, Runnable paused) {
        this.delay = delay;
        this.bucket = bucket;
        this.paused = paused;
    }

    /**
     * Spends {@code bytes} just read. When that leaves the bucket in debt and reading is not {@code held} already,
     * {@code pause} runs now and {@code resume} later.
     *
     * @return whether reading is held now
     */
    public boolean read(long bytes, boolean held, Runnable pause, Runnable resume) {
        bucket.spend(bytes);
        if (held) return true;
        if (bucket.positive()) return false;
        long wait = bucket.nanosUntil(RESUME_AT);
        paused.run();
        pause.run();
        delay.after(wait, resume);
        return true;
    }
}
