package dev.tessera.loadtest.measure;

import java.util.Arrays;
import java.util.function.Consumer;

/**
 * The timeline of one request, fed by its transport: {@link #sent} when it goes out, {@link #tokens} for each chunk
 * of output as it arrives, then {@link #completed} or {@link #failed}, once (later ends are ignored). Each event is
 * stamped on arrival with the trace's {@link TraceClock}. Inter-token latencies are the gaps between chunks, as vLLM's
 * benchmark counts them. The transport calls one request's methods from one thread at a time; the end may race
 * with a drain timeout, so it is synchronized.
 */
public final class RequestTrace {
    private final int index;
    private final int inputLength;
    private final TraceClock clock;
    private final Consumer<RequestRecord> onEnd;
    private long sentNanos;
    private long firstNanos;
    private long lastNanos;
    private int tokens;
    private int skipped;
    private long[] gaps;
    private int gapCount;
    private boolean ended;

    /**
     * @param index          the request's number in its run
     * @param inputLength    the nominal prompt length, -1 when unknown
     * @param expectedChunks capacity hint for the inter-token gaps (max_tokens)
     * @param clock          stamps the events ({@link TraceClock#SYSTEM} but in tests)
     * @param onEnd          receives the record when the request ends
     */
    public RequestTrace(int index, int inputLength, int expectedChunks, TraceClock clock,
                        Consumer<RequestRecord> onEnd) {
        this.index = index;
        this.inputLength = inputLength;
        this.clock = clock;
        this.onEnd = onEnd;
        this.gaps = new long[Math.max(1, expectedChunks)];
    }

    /** Now on the trace's clock: a transport stamps what it sends within the request with it (detection frames). */
    public long now() {
        return clock.nanos();
    }

    /** The request goes out now. */
    public void sent() {
        sentNanos = clock.nanos();
    }

    /** {@code n} output tokens arrived now ({@code n} may be 0 when the count is known only at the end). */
    public void tokens(int n) {
        long nanos = clock.nanos();
        if (firstNanos == 0) {
            firstNanos = nanos;
        } else {
            if (gapCount == gaps.length) gaps = Arrays.copyOf(gaps, gapCount * 2);
            gaps[gapCount++] = nanos - lastNanos;
        }
        lastNanos = nanos;
        tokens += n;
    }

    /**
     * A detection stream's answer to a frame sent at {@code frameSentNanos} ({@link #now()} then) arrived now, after
     * {@code skippedFrames} frames the server skipped: an output whose latency (frame sent to answer) goes where a
     * text stream's inter-token gaps go.
     */
    public void frame(long frameSentNanos, int skippedFrames) {
        long nanos = clock.nanos();
        if (firstNanos == 0) firstNanos = nanos;
        if (gapCount == gaps.length) gaps = Arrays.copyOf(gaps, gapCount * 2);
        gaps[gapCount++] = nanos - frameSentNanos;
        lastNanos = nanos;
        tokens++;
        skipped += skippedFrames;
    }

    /** The request ended well now; {@code outputTokens} replaces the count of chunks' tokens when >= 0. */
    public void completed(int outputTokens) {
        long nanos = clock.nanos();
        end(nanos, outputTokens >= 0 ? outputTokens : tokens, "OK", "");
    }

    /** The request failed now with a status (gRPC code name, {@code HTTP 503}, ...). */
    public void failed(String status, String message) {
        long nanos = clock.nanos();
        end(nanos, tokens, status, message);
    }

    /** Whether the request has ended. */
    public synchronized boolean ended() {
        return ended;
    }

    private void end(long nanos, int outputTokens, String status, String message) {
        RequestRecord record;
        synchronized (this) {
            if (ended) return;
            ended = true;
            double ttft = firstNanos == 0 ? Double.NaN : (firstNanos - sentNanos) / 1e6;
            double e2e = (nanos - sentNanos) / 1e6;
            double[] itl = new double[gapCount];
            for (int i = 0; i < gapCount; i++) itl[i] = gaps[i] / 1e6;
            double tpot = outputTokens > 1 && firstNanos != 0 ? (lastNanos - firstNanos) / 1e6 / (outputTokens - 1)
                    : Double.NaN;
            record = new RequestRecord(index, sentNanos, ttft, tpot, itl, e2e, inputLength, outputTokens, skipped,
                    status, message);
        }
        onEnd.accept(record);
    }
}
