package dev.tessera.scheduler.text;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.builtin.BuiltinModels;
import dev.tessera.engine.CacheDirs;
import dev.tessera.engine.text.model.ModelInfo;
import dev.tessera.engine.text.tokenizer.HfTokenizer;
import dev.tessera.engine.text.tokenizer.Tokenizer;
import dev.tessera.scheduler.core.JobException;
import dev.tessera.scheduler.core.JobFailure;
import dev.tessera.scheduler.core.PromptBytes;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The bound on a prompt's bytes, on the real tokenizer of {@code builtin:tiny}. */
class PromptBytesTest {
    private static HfTokenizer tiny;

    @BeforeAll
    static void load() {
        tiny = HfTokenizer.load(BuiltinModels.materialize("tiny", CacheDirs.defaultDir()));
    }

    @AfterAll
    static void close() {
        tiny.close();
    }

    /** Counts encode calls: a prompt refused by its bytes is never tokenized. */
    private static final class Counting implements Tokenizer {
        final AtomicInteger encodes = new AtomicInteger();

        @Override
        public int[] encode(String text, boolean addSpecialTokens) {
            encodes.incrementAndGet();
            return tiny.encode(text, addSpecialTokens);
        }

        @Override
        public String decode(int[] ids, boolean skipSpecialTokens) {
            return tiny.decode(ids, skipSpecialTokens);
        }

        @Override
        public int vocabSize() {
            return tiny.vocabSize();
        }

        @Override
        public int maxTokenBytes() {
            return tiny.maxTokenBytes();
        }

        @Override
        public void close() {
        }
    }

    @Test
    void theBytesPerTokenAreTheMostAnyVocabularyEntryDecodesTo() {
        int perToken = tiny.maxTokenBytes();
        int longestClean = 0;
        for (int id = 0; id < tiny.vocabSize(); id++) {
            String text = tiny.decode(new int[] {id}, false);
            if (text.contains("\uFFFD")) continue; // part of a character: its bytes are not the text's
            int bytes = text.getBytes(StandardCharsets.UTF_8).length;
            assertTrue(bytes <= perToken, "token " + id + " decodes to " + bytes + " bytes, over " + perToken);
            longestClean = Math.max(longestClean, bytes);
        }
        assertEquals(longestClean, perToken, "the bound is the longest entry, not more");
    }

    @Test
    void aTextJustOverTheBoundIsRefusedUntokenizedAndTheLongestThatCouldFitIsNot() {
        ModelInfo info = new ModelInfo("tiny", "LlamaForCausalLM", tiny.vocabSize(), 256, 4, 8, 2, 32, 64,
                new int[] {2}, 1);
        Counting tokenizer = new Counting();
        TextInput input = new TextInput(info, tokenizer, 1 << 20, 1 << 20, new ChatTemplate(
                "{% for m in messages %}{{ m.content }}{% endfor %}", "", ""));
        PromptBytes bound = input.promptBytes();
        assertEquals(63, bound.maxPromptTokens(), "the context length minus one");
        long max = bound.maxBytes();
        assertEquals(63L * tiny.maxTokenBytes(), max);

        JobFailure over = refusal(input, GenerateRequest.of("r", text(max + 1), Sampling.greedy(1)));
        assertEquals("prompt", over.field());
        assertTrue(over.message().startsWith("prompt: " + (max + 1) + " bytes of text exceed the limit of " + max
                + " bytes"), over.message());
        assertTrue(over.message().contains("the model's context length is 64"), over.message());
        assertEquals(0, tokenizer.encodes.get(), "refused before tokenizing");

        // max bytes pass the byte check: tokenized, then counted (here too many tokens)
        JobFailure fits = refusal(input, GenerateRequest.of("r", text(max), Sampling.greedy(1)));
        assertFalse(fits.message().contains("bytes of text"), fits.message());
        assertTrue(fits.message().contains("tokens exceed the limit of 63"), fits.message());
        assertEquals(1, tokenizer.encodes.get());

        // a chat: the sum of its messages' text, naming the message that passes the bound
        JobFailure chat = refusal(input, GenerateRequest.ofMessages("r", List.of(ChatMessage.text("system",
                "a".repeat((int) max - 10)), ChatMessage.text("user", "b".repeat(11))), Sampling.greedy(1)));
        assertEquals("messages[1].content", chat.field());
        assertTrue(chat.message().contains((max + 1) + " bytes of text exceed"), chat.message());
        assertEquals(1, tokenizer.encodes.get(), "refused before rendering or tokenizing");
    }

    /** A text of exactly {@code bytes} UTF-8 bytes, mostly 2-byte characters. */
    private static String text(long bytes) {
        String s = "é".repeat((int) (bytes / 2)) + (bytes % 2 == 1 ? "a" : "");
        assertEquals(bytes, s.getBytes(StandardCharsets.UTF_8).length);
        return s;
    }

    private static JobFailure refusal(TextInput input, GenerateRequest r) {
        JobFailure f = assertThrows(JobException.class, () -> input.prepare(r, 0)).failure();
        assertEquals(JobFailure.Code.INVALID_ARGUMENT, f.code());
        return f;
    }
}
