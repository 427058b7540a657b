package dev.tessera.engine.text.tokenizer;

import java.util.Arrays;
import java.util.Objects;

/**
 * Turns one sample's stream of generated token ids into text deltas, the way vLLM does it.
 *
 * <p>Byte-level BPE and byte-fallback tokenizers split multi-byte UTF-8 characters across tokens, and decoders may
 * treat the first token of a sequence differently (a stripped leading space). So a token is never decoded alone:
 * each step decodes a short window, {@code prefix} (a few already-emitted tokens, for context) plus the tokens not
 * yet emitted, and emits only the part of the text that follows the prefix's own text. While the window's text ends
 * in U+FFFD (an incomplete character) nothing is emitted; the next token usually completes it.
 *
 * <p>Work per token is bounded by the window, never by the output length. A model can emit bytes that never form a
 * valid character (random weights do); once more than {@value #MAX_PENDING} tokens are held the detokenizer emits the
 * text of all but the last three held tokens (the replacement characters included), so the window stays bounded.
 * Concatenated deltas plus {@link #flush()} equal the decode of {@code context + output} minus the decode of
 * {@code context} (they equal {@code decode(output)} when there is no context). One exception, shared by vLLM and
 * HF's own {@code DecodeStream}: byte-fallback tokenizers (Llama 2 style) turn a whole run of {@code <0xNN>} tokens
 * into U+FFFD once any byte in it is invalid, so a run that starts with valid bytes and turns invalid later streams
 * its valid start as text; valid UTF-8 always streams exactly.
 *
 * <p>Not thread-safe: one instance per sample, driven by one thread.
 */
public final class IncrementalDetokenizer {
    /** Held-back tokens after which text containing replacement characters is emitted anyway. */
    static final int MAX_PENDING = 8;
    private static final char REPLACEMENT = '\uFFFD';

    private final Tokenizer tokenizer;
    private final boolean skipSpecialTokens;
    private int[] ids;
    private int size;
    /** Start of the context window: tokens before it are no longer looked at. */
    private int prefixOffset;
    /** Tokens before this offset have been emitted. */
    private int readOffset;
    /** decode(ids[prefixOffset, readOffset)), kept until the offsets move. */
    private String prefixText;
    private int emittedTokens;

    /**
     * @param tokenizer decodes windows of ids; not owned (not closed here)
     * @param contextIds ids that precede the output (typically the last few prompt ids); only used as decoding
     *     context, never emitted. May be empty.
     * @param skipSpecialTokens whether special tokens are left out of the text
     */
    public IncrementalDetokenizer(Tokenizer tokenizer, int[] contextIds, boolean skipSpecialTokens) {
        this.tokenizer = Objects.requireNonNull(tokenizer, "tokenizer");
        Objects.requireNonNull(contextIds, "contextIds");
        this.skipSpecialTokens = skipSpecialTokens;
        this.ids = Arrays.copyOf(contextIds, Math.max(64, contextIds.length * 2));
        this.size = contextIds.length;
        this.prefixOffset = 0;
        this.readOffset = size;
        this.prefixText = decode(prefixOffset, readOffset);
    }

    /** A detokenizer with no prompt context. */
    public IncrementalDetokenizer(Tokenizer tokenizer, boolean skipSpecialTokens) {
        this(tokenizer, new int[0], skipSpecialTokens);
    }

    /** Appends one generated id and returns the text that became final with it (often empty, never null). */
    public String push(int tokenId) {
        append(tokenId);
        emittedTokens++;
        String text = decode(prefixOffset, size);
        if (text.length() > prefixText.length() && text.charAt(text.length() - 1) != REPLACEMENT) {
            return advance(text, size);
        }
        if (size - readOffset > MAX_PENDING) {
            return forceEmit(text);
        }
        return "";
    }

    /** Emits whatever is still held back (at the end of a sample); the detokenizer stays usable. */
    public String flush() {
        if (readOffset == size) {
            return "";
        }
        String text = decode(prefixOffset, size);
        // Emit what follows the prefix's text, by length, as vLLM does.
        String delta = text.length() > prefixText.length() ? text.substring(prefixText.length()) : "";
        slide(size);
        return delta;
    }

    /** Number of ids pushed so far (context excluded). */
    public int tokenCount() {
        return emittedTokens;
    }

    private String forceEmit(String fullText) {
        // Tokens held this long hold bytes that never form a character. Bytes of a character still in progress lie
        // in the last three tokens, so the text of the tokens before them is final unless the decoder says otherwise;
        // a cut is taken only where its text is a prefix of the whole window's text.
        for (int cut = size - 3; cut > readOffset; cut--) {
            String cutText = decode(prefixOffset, cut);
            if (cutText.length() >= prefixText.length() && cutText.startsWith(prefixText)
                    && fullText.startsWith(cutText)) {
                return advance(cutText, cut);
            }
        }
        if (fullText.equals(prefixText)) {
            slide(size); // held tokens add no text at all (e.g. skipped special tokens): nothing to wait for
        } else if (size - readOffset > 4 * MAX_PENDING && fullText.length() > prefixText.length()) {
            return advance(fullText, size); // the decoder keeps rewriting the window: bound it regardless
        }
        return "";
    }

    private String advance(String text, int newRead) {
        String delta = text.length() > prefixText.length() ? text.substring(prefixText.length()) : "";
        slide(newRead);
        return delta;
    }

    private void slide(int newRead) {
        prefixOffset = readOffset;
        readOffset = newRead;
        compact();
        prefixText = decode(prefixOffset, readOffset);
    }

    private void append(int tokenId) {
        if (size == ids.length) {
            compact();
            if (size == ids.length) {
                ids = Arrays.copyOf(ids, ids.length * 2);
            }
        }
        ids[size++] = tokenId;
    }

    /** Drops ids before the prefix window so the buffer does not grow with the output. */
    private void compact() {
        if (prefixOffset > 0 && prefixOffset >= ids.length / 2) {
            System.arraycopy(ids, prefixOffset, ids, 0, size - prefixOffset);
            size -= prefixOffset;
            readOffset -= prefixOffset;
            prefixOffset = 0;
        }
    }

    private String decode(int from, int to) {
        if (from == to) {
            return "";
        }
        return tokenizer.decode(Arrays.copyOfRange(ids, from, to), skipSpecialTokens);
    }
}
