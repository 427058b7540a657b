package dev.tessera.engine.text.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class IncrementalDetokenizerTest {
    private static HfTokenizer tokenizer;

    @BeforeAll
    static void load() {
        tokenizer = HfTokenizer.load(Fixtures.tokenizerJson());
    }

    @AfterAll
    static void close() {
        tokenizer.close();
    }

    /** Streams {@code ids} and returns the concatenated deltas plus the final flush. */
    private static String stream(Tokenizer tok, int[] context, int[] ids, boolean skipSpecial) {
        IncrementalDetokenizer detok = new IncrementalDetokenizer(tok, context, skipSpecial);
        StringBuilder out = new StringBuilder();
        for (int id : ids) {
            String delta = detok.push(id);
            out.append(delta);
        }
        out.append(detok.flush());
        assertEquals("", detok.flush(), "a second flush has nothing left");
        return out.toString();
    }

    @Test
    void streamsMultiByteTextExactly() {
        for (String text : List.of("你好，世界。今天天气很好。我们一起去公园散步吧。", "Emoji: 🙂 🚀 🎉 ❤️ 👍 and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
                "Grüße aus München: Käse, Öl und Straße.", "Four score and seven years ago, こんにちは 世界!")) {
            int[] ids = tokenizer.encode(text, false);
            assertEquals(text, stream(tokenizer, new int[0], ids, true), text);
        }
    }

    @Test
    void deltasNeverContainHalfCharacters() {
        String text = "你好🙂世界🚀";
        IncrementalDetokenizer detok = new IncrementalDetokenizer(tokenizer, true);
        for (int id : tokenizer.encode(text, false)) {
            String delta = detok.push(id);
            assertFalse(delta.contains("\uFFFD"), "delta with a replacement character: " + delta);
            for (int i = 0; i < delta.length(); i++) {
                char c = delta.charAt(i);
                if (Character.isHighSurrogate(c)) {
                    assertTrue(i + 1 < delta.length() && Character.isLowSurrogate(delta.charAt(i + 1)));
                }
            }
        }
    }

    @Test
    void randomIdsConcatenateToTheFullDecode() {
        SplittableRandom random = new SplittableRandom(42);
        for (int trial = 0; trial < 200; trial++) {
            int[] ids = new int[1 + random.nextInt(60)];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = random.nextInt(tokenizer.vocabSize());
            }
            boolean skip = random.nextBoolean();
            assertEquals(tokenizer.decode(ids, skip), stream(tokenizer, new int[0], ids, skip), "trial " + trial);
        }
    }

    @Test
    void contextIsUsedButNotEmitted() {
        int[] prompt = tokenizer.encode("The quick brown fox", true);
        int[] output = tokenizer.encode(" jumps over the lazy dog 🦊", false);
        int[] context = java.util.Arrays.copyOfRange(prompt, Math.max(0, prompt.length - 5), prompt.length);
        assertEquals(" jumps over the lazy dog 🦊", stream(tokenizer, context, output, true));
    }

    @Test
    void invalidByteRunsStayBoundedAndComplete() {
        // A continuation byte alone never forms a character; a stuck model can emit it forever.
        int id = byteToken(0x80);
        CountingTokenizer counting = new CountingTokenizer(tokenizer);
        int n = 500;
        int[] ids = new int[n];
        java.util.Arrays.fill(ids, id);
        IncrementalDetokenizer detok = new IncrementalDetokenizer(counting, true);
        StringBuilder out = new StringBuilder();
        for (int x : ids) {
            out.append(detok.push(x));
        }
        assertTrue(out.length() >= n - 2 * IncrementalDetokenizer.MAX_PENDING, "text keeps flowing: " + out.length());
        out.append(detok.flush());
        assertEquals(tokenizer.decode(ids, true), out.toString());
        assertTrue(counting.decodedIds < 40L * n, "decode work stays bounded per token: " + counting.decodedIds);
    }

    @Test
    void longOutputDoesLinearWork() {
        String text = "It is rather for us to be here dedicated to the great task remaining before us. ".repeat(40);
        int[] ids = tokenizer.encode(text, false);
        CountingTokenizer counting = new CountingTokenizer(tokenizer);
        assertEquals(text, stream(counting, new int[0], ids, true));
        assertTrue(counting.decodedIds < 10L * ids.length, counting.decodedIds + " ids decoded for " + ids.length);
    }

    @Test
    void skippedSpecialTokensAddNothing() {
        int[] ids = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2};
        assertEquals("", stream(tokenizer, new int[0], ids, true));
        int[] mixed = concat(tokenizer.encode("Hi", false), ids, tokenizer.encode(" there", false));
        assertEquals("Hi there", stream(tokenizer, new int[0], mixed, true));
        assertEquals(tokenizer.decode(mixed, false), stream(tokenizer, new int[0], mixed, false));
    }

    @Test
    void llamaStyleTokenizerKeepsSpacesAndByteFallbackCharacters() {
        Path spmJson = Fixtures.dir("llama-gqa").getParent().resolve("tokenizer-llama-spm.json");
        try (HfTokenizer spm = HfTokenizer.load(spmJson)) {
            String text = "Hello world, 你好 🚀 naïve café — the end";
            int[] ids = spm.encode(text, false);
            assertEquals(text, spm.decode(ids, true));
            assertEquals(text, stream(spm, new int[0], ids, true));

            // Continuing a prompt: the decoder strips the first space of whatever it decodes, so only the prompt
            // context keeps the space in front of the first generated word.
            int[] full = spm.encode("The quick brown fox jumps over the lazy dog 🦊", true);
            for (int split = 2; split < full.length; split++) {
                int[] prompt = java.util.Arrays.copyOfRange(full, 0, split);
                int[] output = java.util.Arrays.copyOfRange(full, split, full.length);
                int[] context = java.util.Arrays.copyOfRange(prompt, Math.max(0, split - 5), split);
                String whole = spm.decode(full, true);
                String promptText = spm.decode(prompt, true);
                if (!whole.startsWith(promptText)) {
                    continue; // the prompt ends inside a byte-fallback character
                }
                String expected = whole.substring(promptText.length());
                assertEquals(expected, stream(spm, context, output, true), "split at " + split);
            }

            // Random pieces and byte-fallback characters. (ByteFallback turns a whole run of byte tokens into U+FFFD
            // once any byte of it is invalid, so for invalid runs no streaming can match the one-shot decode; models
            // only produce such runs by accident, and the run still streams as replacement characters.)
            SplittableRandom random = new SplittableRandom(11);
            String[] chars = {"你", "🚀", "é", "Ѷ", "—", "😀"};
            for (int trial = 0; trial < 200; trial++) {
                java.util.List<Integer> rnd = new java.util.ArrayList<>();
                int len = 1 + random.nextInt(40);
                while (rnd.size() < len) {
                    if (random.nextInt(4) == 0) {
                        for (byte b : chars[random.nextInt(chars.length)].getBytes(StandardCharsets.UTF_8)) {
                            rnd.add(3 + (b & 0xFF)); // <0xNN> tokens sit at ids 3..258
                        }
                    } else {
                        int id = random.nextInt(spm.vocabSize());
                        rnd.add(id >= 3 && id < 259 ? 0 : id);
                    }
                }
                int[] ids2 = rnd.stream().mapToInt(Integer::intValue).toArray();
                assertEquals(spm.decode(ids2, true), stream(spm, new int[0], ids2, true), "trial " + trial);
            }
        }
    }

    private static int byteToken(int b) {
        // GPT-2 byte-to-unicode: bytes outside the printable ranges map to U+0100 + n in order.
        int n = 0;
        for (int x = 0; x < 256; x++) {
            boolean printable = (x >= '!' && x <= '~') || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE && x <= 0xFF);
            if (x == b) {
                String symbol = printable ? String.valueOf((char) x) : String.valueOf((char) (256 + n));
                return tokenizer.tokenId(symbol).getAsInt();
            }
            if (!printable) {
                n++;
            }
        }
        throw new IllegalArgumentException("byte " + b);
    }

    private static int[] concat(int[]... parts) {
        int len = 0;
        for (int[] p : parts) {
            len += p.length;
        }
        int[] out = new int[len];
        int at = 0;
        for (int[] p : parts) {
            System.arraycopy(p, 0, out, at, p.length);
            at += p.length;
        }
        return out;
    }

    /** Counts how many ids are decoded, to check the work per token stays bounded. */
    private static final class CountingTokenizer implements Tokenizer {
        private final Tokenizer delegate;
        long decodedIds;

        CountingTokenizer(Tokenizer delegate) {
            this.delegate = delegate;
        }

        @Override
        public int[] encode(String text, boolean addSpecialTokens) {
            return delegate.encode(text, addSpecialTokens);
        }

        @Override
        public String decode(int[] ids, boolean skipSpecialTokens) {
            decodedIds += ids.length;
            return delegate.decode(ids, skipSpecialTokens);
        }

        @Override
        public int vocabSize() {
            return delegate.vocabSize();
        }

        @Override
        public void close() {}
    }
}
