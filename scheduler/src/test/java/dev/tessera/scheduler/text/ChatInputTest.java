package dev.tessera.scheduler.text;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.engine.text.model.ModelInfo;
import dev.tessera.scheduler.core.ImageData;
import dev.tessera.scheduler.core.JobException;
import dev.tessera.scheduler.core.JobFailure;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Chat messages through the text input processor: rendered by the template, then tokenized and checked. */
class ChatInputTest {
    private static final ModelInfo MODEL = new ModelInfo("m", "LlamaForCausalLM", TestTokenizer.VOCAB, 64, 2, 4, 2,
            16, 256, new int[] {0}, -1);
    private static final ChatTemplate TEMPLATE = new ChatTemplate(
            "{% for m in messages %}{{ m.role[0] }}{{ m.content }}.{% endfor %}"
                    + "{% if m is not defined and add_generation_prompt %}A{% endif %}"
                    + "{% if messages[0].role == 'tool' %}{{ raise_exception('no tools here') }}{% endif %}", "", "");
    private final TextInput input = new TextInput(MODEL, new TestTokenizer(), 64, 4096, TEMPLATE);

    private JobFailure invalid(TextInput in, GenerateRequest r) {
        JobFailure f = assertThrows(JobException.class, () -> in.prepare(r, 0)).failure();
        assertEquals(JobFailure.Code.INVALID_ARGUMENT, f.code());
        assertTrue(f.message().startsWith(f.field() + ": "), f.message());
        return f;
    }

    private static GenerateRequest chat(Sampling sampling, ChatMessage... messages) {
        return GenerateRequest.ofMessages("r", List.of(messages), sampling);
    }

    @Test
    void messagesAreRenderedWithTheGenerationPromptAndTokenized() {
        PreparedText p = input.prepare(chat(Sampling.greedy(4), ChatMessage.text("system", "be brief"),
                ChatMessage.text("user", "hi")), 0);
        assertEquals("sbe brief.uhi.A", new TestTokenizer().decode(p.promptTokens(), false));
        assertEquals(4, p.params().maxTokens());
    }

    @Test
    void aChatWithoutMaxTokensMayFillTheContext() {
        PreparedText p = input.prepare(chat(Sampling.defaults(), ChatMessage.text("user", "hi")), 0);
        assertEquals(MODEL.maxModelLen() - p.promptTokens().length, p.params().maxTokens());
        TextInput smallCache = new TextInput(MODEL, new TestTokenizer(), 64, 48, TEMPLATE);
        PreparedText q = smallCache.prepare(chat(Sampling.defaults(), ChatMessage.text("user", "hi")), 0);
        assertEquals(48 - q.promptTokens().length, q.params().maxTokens());
    }

    @Test
    void badChatsAreNamed() {
        assertEquals("input", invalid(input, new GenerateRequest("r", "", "hi", null, Sampling.defaults(), 0,
                List.of(ChatMessage.text("user", "hi")))).field());
        assertEquals("messages", invalid(input, chat(Sampling.defaults())).field());
        assertEquals("messages[0].role", invalid(input, chat(Sampling.defaults(), ChatMessage.text("", "x"))).field());
        ChatMessage withImage = new ChatMessage("user", List.of(new ChatMessage.Part.Text("look"),
                new ChatMessage.Part.Image(new ImageData(new byte[] {1}, ImageData.Format.PNG, 1, 1))), null);
        JobFailure image = invalid(input, chat(Sampling.defaults(), ChatMessage.text("user", "x"), withImage));
        assertEquals("messages[1].content[1]", image.field());
        assertTrue(image.message().contains("text only"), image.message());
        JobFailure raised = invalid(input, chat(Sampling.defaults(), ChatMessage.text("tool", "x")));
        assertEquals("messages: no tools here", raised.message());
        JobFailure tooLong = invalid(input, chat(Sampling.defaults(), ChatMessage.text("user", "x".repeat(80))));
        assertEquals("messages", tooLong.field());
        assertEquals("sampling.top_p", invalid(input, chat(Sampling.builder().topP(2f).build(),
                ChatMessage.text("user", "x"))).field());
    }

    @Test
    void aModelWithoutATemplateRefusesChatButNotPrompts() {
        TextInput plain = new TextInput(MODEL, new TestTokenizer(), 64, 4096);
        JobFailure f = invalid(plain, chat(Sampling.defaults(), ChatMessage.text("user", "hi")));
        assertEquals("messages", f.field());
        assertTrue(f.message().contains("no chat template"), f.message());
        assertEquals(2, plain.prepare(GenerateRequest.of("r", "hi", Sampling.defaults()), 0).promptTokens().length);
    }
}
