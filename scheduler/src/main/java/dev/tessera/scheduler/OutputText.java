package dev.tessera.scheduler;

import dev.tessera.engine.text.Tokenizer;
import java.util.List;

/**
 * Turns one sample's output tokens into text deltas and finds stop strings.
 *
 * <p>Decoding is incremental in effect: the output ids are decoded as a whole and the part beyond what was already
 * released is the new text; text ending in an incomplete UTF-8 character (U+FFFD) is held back. Text that could be
 * the start of a stop string is held back too, so released text never has to be taken back. When a stop string
 * matches, the text before it is released and the rest is dropped.
 *
 * <p>Owned by the scheduler loop; not thread-safe.
 */
final class OutputText {
    private final Tokenizer tokenizer;
    private final List<String> stops;
    private final int maxStopLen;
    private int[] ids = new int[16];
    private int numIds;
    /** Length of the decoded text accounted for (released or pending). */
    private int decodedLen;
    private final StringBuilder pending = new StringBuilder();
    private boolean stopped;

    OutputText(Tokenizer tokenizer, List<String> stops) {
        this.tokenizer = tokenizer;
        this.stops = stops;
        int m = 0;
        for (String s : stops) m = Math.max(m, s.length());
        this.maxStopLen = m;
    }

    /** Adds a token and returns the text that can be released now (possibly empty). */
    String add(int tokenId) {
        if (stopped) return "";
        if (numIds == ids.length) ids = java.util.Arrays.copyOf(ids, ids.length * 2);
        ids[numIds++] = tokenId;
        String full = tokenizer.decode(java.util.Arrays.copyOf(ids, numIds), true);
        if (full.length() > decodedLen && !full.endsWith("\uFFFD")) {
            pending.append(full, decodedLen, full.length());
            decodedLen = full.length();
        }
        return release(false);
    }

    /** Releases whatever is held back (at the end of the sample, when no more tokens come). */
    String flush() {
        return stopped ? "" : release(true);
    }

    /** True once a stop string matched; no text follows. */
    boolean stopped() {
        return stopped;
    }

    private String release(boolean all) {
        if (pending.length() == 0) return "";
        if (!stops.isEmpty()) {
            int cut = -1;
            for (String s : stops) {
                int at = pending.indexOf(s);
                if (at >= 0 && (cut < 0 || at < cut)) cut = at;
            }
            if (cut >= 0) {
                stopped = true;
                String out = pending.substring(0, cut);
                pending.setLength(0);
                return out;
            }
        }
        int keep = all ? 0 : heldForStop();
        String out = pending.substring(0, pending.length() - keep);
        pending.delete(0, pending.length() - keep);
        return out;
    }

    /** Longest suffix of {@code pending} that is a proper prefix of some stop string. */
    private int heldForStop() {
        int len = pending.length();
        for (int k = Math.min(len, maxStopLen - 1); k > 0; k--) {
            for (String s : stops) {
                if (s.length() > k && regionEquals(pending, len - k, s, k)) return k;
            }
        }
        return 0;
    }

    private static boolean regionEquals(CharSequence a, int from, String s, int k) {
        for (int i = 0; i < k; i++) {
            if (a.charAt(from + i) != s.charAt(i)) return false;
        }
        return true;
    }
}
