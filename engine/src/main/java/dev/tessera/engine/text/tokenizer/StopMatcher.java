package dev.tessera.engine.text.tokenizer;

import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Finds stop strings in a stream of text deltas, including stop strings split across deltas.
 *
 * <p>Each {@link #accept(String) accepted} delta yields the text that may be shown now. Text that could still be the
 * beginning of a stop string is held back until the next delta decides it. When a stop string appears, the output is
 * cut right before it (or right after it, when the stop string is to be included) and the matcher is finished; the
 * earliest occurrence wins, and among stop strings starting at the same place the longest. At the end of a sample
 * without a match, {@link #flush()} returns the held-back text.
 *
 * <p>Not thread-safe: one instance per sample.
 */
public final class StopMatcher {
    private final List<String> stops;
    private final boolean includeStop;
    private final int maxStopLength;
    private final StringBuilder held = new StringBuilder();
    private @Nullable String matched;

    /**
     * @param stops stop strings, none empty; an empty list makes the matcher pass everything through
     * @param includeStop whether the matched stop string is part of the emitted text
     */
    public StopMatcher(List<String> stops, boolean includeStop) {
        Objects.requireNonNull(stops, "stops");
        int max = 0;
        for (String s : stops) {
            Objects.requireNonNull(s, "stop string");
            if (s.isEmpty()) {
                throw new IllegalArgumentException("stop strings must not be empty");
            }
            max = Math.max(max, s.length());
        }
        this.stops = List.copyOf(stops);
        this.includeStop = includeStop;
        this.maxStopLength = max;
    }

    /** What {@link #accept(String)} lets out: the text to emit and, if a stop string matched, which. */
    public record Result(String text, @Nullable String matchedStop) {
        public boolean stopped() {
            return matchedStop != null;
        }
    }

    /**
     * Consumes one delta.
     *
     * @throws IllegalStateException when a stop string has already matched
     */
    public Result accept(String delta) {
        Objects.requireNonNull(delta, "delta");
        if (matched != null) {
            throw new IllegalStateException("stop string already matched: " + matched);
        }
        if (stops.isEmpty()) {
            return new Result(delta, null);
        }
        held.append(delta);
        int bestAt = -1;
        String best = null;
        for (String stop : stops) {
            int at = held.indexOf(stop);
            if (at >= 0 && (bestAt < 0 || at < bestAt || (at == bestAt && stop.length() > best.length()))) {
                bestAt = at;
                best = stop;
            }
        }
        if (best != null) {
            matched = best;
            String text = held.substring(0, includeStop ? bestAt + best.length() : bestAt);
            held.setLength(0);
            return new Result(text, best);
        }
        int keep = partialStopSuffix();
        String text = held.substring(0, held.length() - keep);
        held.delete(0, held.length() - keep);
        return new Result(text, null);
    }

    /** Releases the held-back text (end of sample, no match). Empty after a match. */
    public String flush() {
        String text = held.toString();
        held.setLength(0);
        return text;
    }

    /** The stop string that matched, or null. */
    public @Nullable String matchedStop() {
        return matched;
    }

    /** Length of the longest suffix of {@code held} that is a proper prefix of some stop string. */
    private int partialStopSuffix() {
        int len = held.length();
        for (int k = Math.min(len, maxStopLength - 1); k > 0; k--) {
            for (String stop : stops) {
                if (stop.length() > k && regionEquals(stop, len - k, k)) {
                    return k;
                }
            }
        }
        return 0;
    }

    private boolean regionEquals(String stop, int heldFrom, int k) {
        for (int i = 0; i < k; i++) {
            if (held.charAt(heldFrom + i) != stop.charAt(i)) {
                return false;
            }
        }
        return true;
    }
}
