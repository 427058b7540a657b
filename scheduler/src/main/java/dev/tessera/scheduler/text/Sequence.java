package dev.tessera.scheduler.text;

import java.util.Arrays;
import org.jspecify.annotations.Nullable;

/**
 * One sample of a text request as the loop sees it: its tokens (prompt then output), how many of them have KV, and
 * its timings. Owned by the loop thread.
 *
 * <p>After a preemption the sequence keeps its tokens and output state; only {@link #numComputed} drops to zero, so
 * recomputation prefills prompt and output together and the output continues where it stopped.
 */
final class Sequence {
    enum State { WAITING, RUNNING, FINISHED }

    final long id;
    final TextJob request;
    final int index;
    final long seed;
    final int promptLen;

    int[] tokens;
    /** Prefix-cache keys when they differ from the tokens (a prompt with images, see {@link MultimodalPrompt}). */
    private int @Nullable [] keys;
    /** Embeddings of the request's images, held while the prefill reaches their placeholders. */
    private float @Nullable [] @Nullable [] imageEmbeds;
    int len;
    int numComputed;
    int outputs;
    State state = State.WAITING;
    /** Parent of an {@code n > 1} request before its prompt is computed: it stands for all n samples. */
    boolean group;
    /** Preempted at least once: goes before new requests of the same priority. */
    boolean resumed;

    long firstTokenNanos;
    long lastTokenNanos;
    double[] interTokenMs = new double[16];
    int numInterToken;

    Sequence(long id, TextJob request, int index, int[] tokens, int len, int promptLen) {
        this.id = id;
        this.request = request;
        this.index = index;
        this.seed = request.seed + index;
        this.tokens = tokens;
        this.len = len;
        this.promptLen = promptLen;
        MultimodalPrompt mm = request.mm;
        if (mm != null) {
            keys = tokens.clone();
            System.arraycopy(mm.keys(), 0, keys, 0, mm.length());
        }
    }

    /** The keys the prefix cache hashes: the tokens, except image placeholders (see {@link MultimodalPrompt}). */
    int[] cacheKeys() {
        return keys != null ? keys : tokens;
    }

    /** The embeddings of image {@code i} this sequence holds, or null. */
    float @Nullable [] heldEmbeddings(int i) {
        return imageEmbeds == null ? null : imageEmbeds[i];
    }

    /** Holds (or, with null, lets go of) the embeddings of image {@code i}. */
    void holdEmbeddings(int i, float @Nullable [] embeddings) {
        if (imageEmbeds == null) {
            if (embeddings == null) return;
            imageEmbeds = new float[request.mm.images().size()][];
        }
        imageEmbeds[i] = embeddings;
    }

    /** Tokens still to compute before the next token can be sampled. */
    int remaining() {
        return len - numComputed;
    }

    /** Running-batch seats this sequence stands for. */
    int seats() {
        return group ? request.params.n() : 1;
    }

    void append(int token) {
        if (len == tokens.length) {
            tokens = Arrays.copyOf(tokens, Math.max(16, tokens.length * 2));
            if (keys != null) keys = Arrays.copyOf(keys, tokens.length);
        }
        if (keys != null) keys[len] = token;
        tokens[len++] = token;
        outputs++;
    }

    void recordTokenTime(long now) {
        if (firstTokenNanos == 0) {
            firstTokenNanos = now;
        } else {
            if (numInterToken == interTokenMs.length) interTokenMs = Arrays.copyOf(interTokenMs, numInterToken * 2);
            interTokenMs[numInterToken++] = (now - lastTokenNanos) / 1e6;
        }
        lastTokenNanos = now;
    }

    /**
     * Forgets every output token past the first {@code outputs} (a stop string matched there; the loop had already
     * sampled further). Their KV stays in blocks that are freed when the sample ends.
     */
    void truncateOutputs(int keep) {
        if (keep >= outputs) return;
        len = promptLen + keep;
        outputs = keep;
        numInterToken = Math.max(0, Math.min(numInterToken, keep - 1 - request.resumed.length));
    }

    @Override
    public String toString() {
        return "seq " + id + " (" + request + " #" + index + ", " + numComputed + "/" + len + ")";
    }
}
