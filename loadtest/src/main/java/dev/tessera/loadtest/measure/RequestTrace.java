package dev.tessera.loadtest.measure;

import java.util.Arrays;
import java.util.function.Consumer;

/**
 * The timeline of one request, fed by its transport: {@link #sent} when it goes out, {@link #tokens} for each chunk
 * of output that arrives (with the {@link System#nanoTime()} it arrived at), then {@link #completed} or
 * {@link #failed}, once (later ends are ignored). Inter-token latencies are the gaps between chunks, as vLLM's
 * benchmark counts them. The transport calls one request's methods from one thread at a time; the end may race
 * with a drain timeout, so it is synchronized.
 */
public final class RequestTrace {
    private final int index;
    private final int inputLength;
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
     * @param onEnd          receives the record when the request ends
     */
    public RequestTrace(int index, int inputLength, int expectedChunks, Consumer<RequestRecord> onEnd) {
        this.index = index;
        this.inputLength = inputLength;
        this.onEnd = onEnd;
        this.gaps = new long[Math.max(1, expectedChunks)];
    }

    /** The request went out at {@code nanos}. */
    public void sent(long nanos) {
        sentNanos = nanos;
    }

    /** {@code n} output tokens arrived at {@code nanos} ({@code n} may be 0 when the count is known only at the end). */
    public void tokens(int n, long nanos) {
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
     * A detection stream's answer to a frame sent at {@code frameSentNanos} arrived at {@code nanos}, after
     * {@code skippedFrames} frames the server skipped: an output whose latency (frame sent to answer) goes where a
     * text stream's inter-token gaps go.
     */
    public void frame(long frameSentNanos, long nanos, int skippedFrames) {
        if (firstNanos == 0) firstNanos = nanos;
        if (gapCount == gaps.length) gaps = Arrays.copyOf(gaps, gapCount * 2);
        gaps[gapCount++] = nanos - frameSentNanos;
        lastNanos = nanos;
        tokens++;
        skipped += skippedFrames;
    }

    /** The request ended well at {@code nanos}; {@code outputTokens} replaces the count of chunks' tokens when >= 0. */
    public void completed(long nanos, int outputTokens) {
        end(nanos, outputTokens >= 0 ? outputTokens : tokens, "OK", "");
    }

    /** The request failed at {@code nanos} with a status (gRPC code name, {@code HTTP 503}, ...). */
    public void failed(long nanos, String status, String message) {
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
