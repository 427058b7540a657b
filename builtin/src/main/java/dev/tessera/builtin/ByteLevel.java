package dev.tessera.builtin;

import java.nio.charset.StandardCharsets;
import java.util.regex.Pattern;

/**
 * The byte-level alphabet and pre-tokenizer of GPT-2-style BPE, as Hugging Face's {@code ByteLevel} pre-tokenizer
 * defines them: text is split with the GPT-2 regex, each piece is turned into UTF-8 bytes, and each byte is shown as
 * one printable character (printable Latin-1 bytes stand for themselves, the rest map to U+0100 onwards).
 */
final class ByteLevel {
    /** GPT-2's split pattern, with Unicode classes as Rust's regex crate has them. */
    static final Pattern SPLIT = Pattern.compile(
            "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
            Pattern.UNICODE_CHARACTER_CLASS);

    private static final char[] BYTE_TO_CHAR = buildAlphabet();

    private ByteLevel() {}

    /** The character that stands for {@code b} (0..255). */
    static char charOf(int b) {
        return BYTE_TO_CHAR[b];
    }

    /** The UTF-8 bytes of {@code piece}, each shown as its byte-level character. */
    static String encode(String piece) {
        byte[] bytes = piece.getBytes(StandardCharsets.UTF_8);
        char[] out = new char[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            out[i] = BYTE_TO_CHAR[bytes[i] & 0xFF];
        }
        return new String(out);
    }

    private static char[] buildAlphabet() {
        char[] map = new char[256];
        int next = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            map[b] = printable ? (char) b : (char) (256 + next++);
        }
        return map;
    }
}
