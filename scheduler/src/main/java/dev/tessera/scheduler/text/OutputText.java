package dev.tessera.scheduler.text;

import dev.tessera.engine.text.tokenizer.IncrementalDetokenizer;
import dev.tessera.engine.text.tokenizer.StopMatcher;
import dev.tessera.engine.text.tokenizer.Tokenizer;
import java.util.Arrays;
import java.util.List;

/**
 * One sample's output text: an {@link IncrementalDetokenizer} (with the last prompt tokens as decoding context)
 * feeding a {@link StopMatcher}. Released text never has to be taken back; when a stop string matches, the text
 * before it is released and nothing after. Owned by one job's output processor; not thread-safe.
 */
final class OutputText {
    /** Prompt tokens given to the detokenizer as context (for tokenizers that treat a sequence's start specially). */
    private static final int CONTEXT_TOKENS = 4;

    private final IncrementalDetokenizer detokenizer;
    private final StopMatcher stops;
    private boolean stopped;

    OutputText(Tokenizer tokenizer, int[] prompt, int promptLen, List<String> stopStrings) {
        int[] context = Arrays.copyOfRange(prompt, Math.max(0, promptLen - CONTEXT_TOKENS), promptLen);
        this.detokenizer = new IncrementalDetokenizer(tokenizer, context, true);
        this.stops = new StopMatcher(stopStrings, false);
    }

    /**
     * Replays the outputs a broken stream already delivered: the detokenizer and the stop matcher reach the state
     * they had there, and the text they released then is not released again (what they held back still is, once
     * it resolves, as it would have been).
     */
    void replay(int[] delivered) {
        for (int id : delivered) add(id);
    }

    /** Adds a token and returns the text that can be released now (possibly empty). */
    String add(int tokenId) {
        if (stopped) return "";
        return accept(detokenizer.push(tokenId));
    }

    /** Releases whatever is held back (at the end of the sample, when no more tokens come). */
    String flush() {
        if (stopped) return "";
        String last = accept(detokenizer.flush());
        return stopped ? last : last + stops.flush();
    }

    /** True once a stop string matched; no text follows. */
    boolean stopped() {
        return stopped;
    }

    private String accept(String delta) {
        if (delta.isEmpty()) return "";
        StopMatcher.Result r = stops.accept(delta);
        if (r.stopped()) stopped = true;
        return r.text();
    }
}
