package dev.tessera.engine.text.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.charset.StandardCharsets;
import java.util.Iterator;
import java.util.Map;

/**
 * The most UTF-8 bytes of input text that one token of a {@code tokenizer.json} can stand for, read from the file's
 * pipeline and vocabulary: the lower bound {@code tokens >= ceil(bytes / maxTokenBytes)} that lets a server refuse
 * a prompt too long for the model before tokenizing it (or decoding it). Hand-written: the tokenizers library has
 * no such query.
 *
 * <p><b>The argument.</b> The tokenizers library encodes a text in stages: added tokens are split out of the raw
 * text, the normalizer rewrites the rest, the pre-tokenizer cuts it into words, and the model cuts each word into
 * vocabulary entries whose strings, put end to end, are that word. So the tokens' strings cover every byte of the
 * normalized text, and a text needs at least {@code ceil(bytes / L)} tokens, where {@code L} is the most bytes one
 * entry covers:
 * <ul>
 *   <li>with a {@code ByteLevel} pre-tokenizer (GPT-2, Llama 3, Qwen) every input byte becomes one character of the
 *       byte alphabet, so an entry covers as many bytes as it has characters: exactly the bytes it decodes to;</li>
 *   <li>otherwise an entry covers at most its own UTF-8 length (a SentencePiece {@code ▁} is 3 bytes standing for
 *       a 1-byte space, a byte-fallback {@code <0x41>} 6 bytes standing for one);</li>
 *   <li>an added token covers its content (the file's string, the bytes it decodes to); a model's unknown token
 *       covers one character, at most 4 bytes.</li>
 * </ul>
 * A normalizer may shrink the text before the model sees it, so {@code L} is multiplied by the most it can shrink:
 * 3 for NFC/NFD and lowercasing (Hangul jamo L+V+T, 9 bytes, compose to one 3-byte syllable; U+212A KELVIN SIGN,
 * 3 bytes, becomes {@code k}, 1 byte), 4 for NFKC/NFKD (U+1D400 MATHEMATICAL BOLD CAPITAL A, 4 bytes, becomes
 * {@code A}), a product through a {@code Sequence}. Special tokens added by the post-processor and a chat template
 * only add tokens.
 *
 * <p><b>No bound</b> (0) where a step can swallow unboundedly many bytes into one token or drop them: a normalizer
 * other than those above, a {@code Replace} to nothing or by a regular expression (BERT's cleanup, {@code Strip},
 * {@code Precompiled}), a pre-tokenizer that drops whitespace ({@code Whitespace}, {@code BertPreTokenizer}, a
 * {@code Split} that removes), an added token with {@code lstrip}/{@code rstrip} (it takes the whitespace beside it),
 * a {@code WordPiece} or {@code WordLevel} model (a whole word may be one unknown token), a {@code Unigram} model or a
 * BPE with fused unknown tokens without byte fallback, or a pipeline element this class does not know.
 */
final class TokenBytes {
    private TokenBytes() {
    }

    /**
     * The most input bytes one token stands for, or 0 when the pipeline admits no bound.
     *
     * @param root the parsed {@code tokenizer.json}
     * @param ids  every vocabulary entry and added token, by its string
     */
    static int maxTokenBytes(JsonNode root, Map<String, Integer> ids) {
        int shrink = normalizerShrink(root.path("normalizer"));
        if (shrink == 0) return 0;
        JsonNode pre = root.path("pre_tokenizer");
        if (!keepsEveryByte(pre)) return 0;
        boolean byteLevel = hasByteLevel(pre);
        JsonNode model = root.path("model");
        String type = model.path("type").asText("");
        boolean byteFallback = model.path("byte_fallback").asBoolean(false);
        boolean hasUnk = !model.path("unk_token").isMissingNode() && !model.path("unk_token").isNull();
        switch (type) {
            case "BPE" -> {
                if (!byteLevel && hasUnk && !byteFallback && model.path("fuse_unk").asBoolean(false)) return 0;
            }
            case "Unigram" -> {
                if (!byteFallback) return 0; // unknown runs are fused into one token
            }
            default -> {
                return 0;
            }
        }
        long longest = hasUnk && !byteLevel ? 4 : 1;
        java.util.Set<String> added = new java.util.HashSet<>();
        for (JsonNode a : root.path("added_tokens")) {
            if (a.path("lstrip").asBoolean(false) || a.path("rstrip").asBoolean(false)) return 0;
            String content = a.path("content").asText();
            added.add(content);
            longest = Math.max(longest, utf8Length(content));
        }
        for (String entry : ids.keySet()) {
            if (added.contains(entry)) continue;
            int covers = byteLevel ? entry.codePointCount(0, entry.length()) : utf8Length(entry);
            longest = Math.max(longest, covers);
        }
        long bound = longest * shrink;
        return bound > Integer.MAX_VALUE ? 0 : (int) bound;
    }

    /** How many times fewer bytes the normalizer can leave than it got (1: never fewer), or 0 for unbounded. */
    private static int normalizerShrink(JsonNode n) {
        if (n.isMissingNode() || n.isNull()) return 1;
        return switch (n.path("type").asText("")) {
            case "Sequence" -> {
                long product = 1;
                for (JsonNode inner : n.path("normalizers")) {
                    product *= normalizerShrink(inner);
                    if (product == 0 || product > 1 << 16) yield 0;
                }
                yield (int) product;
            }
            case "NFC", "NFD", "Lowercase" -> 3;
            case "NFKC", "NFKD" -> 4;
            case "Prepend" -> 1;
            case "Replace" -> replaceShrink(n);
            default -> 0;
        };
    }

    /** A literal {@code Replace} shrinks by at most pattern bytes over content bytes per occurrence. */
    private static int replaceShrink(JsonNode n) {
        JsonNode pattern = n.path("pattern").path("String");
        if (!pattern.isTextual()) return 0; // a regular expression may match any length
        int from = utf8Length(pattern.asText());
        int to = utf8Length(n.path("content").asText(""));
        if (to == 0) return 0;
        return Math.max(1, (from + to - 1) / to);
    }

    /** True when no pre-tokenizer in {@code p} drops input. */
    private static boolean keepsEveryByte(JsonNode p) {
        if (p.isMissingNode() || p.isNull()) return true;
        return switch (p.path("type").asText("")) {
            case "Sequence" -> {
                for (Iterator<JsonNode> it = p.path("pretokenizers").elements(); it.hasNext(); ) {
                    if (!keepsEveryByte(it.next())) yield false;
                }
                yield true;
            }
            case "ByteLevel", "Metaspace", "Digits", "Punctuation", "UnicodeScripts" -> true;
            case "Split" -> !p.path("behavior").asText("").equals("Removed");
            default -> false;
        };
    }

    private static boolean hasByteLevel(JsonNode p) {
        if (p.path("type").asText("").equals("ByteLevel")) return true;
        for (JsonNode inner : p.path("pretokenizers")) {
            if (hasByteLevel(inner)) return true;
        }
        return false;
    }

    static int utf8Length(String s) {
        return s.getBytes(StandardCharsets.UTF_8).length;
    }
}
