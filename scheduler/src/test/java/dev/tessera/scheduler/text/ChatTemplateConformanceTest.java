package dev.tessera.scheduler.text;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.tessera.builtin.BuiltinModels;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link ChatTemplate} renders as transformers' {@code apply_chat_template(tokenize=False)} does, character for
 * character, on the cases of {@code chat-templates/golden.json} ({@code tools/make_chat_template_fixtures.py}):
 * templates in the styles of several model families and one full of Python-isms, over several conversations, with
 * and without the generation prompt; where the template raises, the same message.
 */
class ChatTemplateConformanceTest {
    private static final Map<String, Object> GOLDEN = load();

    @SuppressWarnings("unchecked")
    private static Map<String, Object> load() {
        try (InputStream in = ChatTemplateConformanceTest.class.getResourceAsStream("/chat-templates/golden.json")) {
            return (Map<String, Object>) MiniJson.parse(new String(in.readAllBytes(), StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    @SuppressWarnings("unchecked")
    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (Object c : (List<Object>) GOLDEN.get("cases")) {
            Map<String, Object> m = (Map<String, Object>) c;
            out.add(Arguments.of(m.get("template") + "/" + m.get("conversation") + "/"
                    + m.get("add_generation_prompt"), m));
        }
        return out.stream();
    }

    @SuppressWarnings("unchecked")
    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void rendersAsTransformersDoes(String name, Map<String, Object> c) {
        Map<String, Object> templates = (Map<String, Object>) GOLDEN.get("templates");
        Map<String, Object> conversations = (Map<String, Object>) GOLDEN.get("conversations");
        ChatTemplate template = new ChatTemplate((String) templates.get(c.get("template")),
                (String) GOLDEN.get("bos_token"), (String) GOLDEN.get("eos_token"));
        List<ChatMessage> messages = new ArrayList<>();
        for (Object o : (List<Object>) conversations.get(c.get("conversation"))) {
            Map<String, Object> m = (Map<String, Object>) o;
            messages.add(new ChatMessage((String) m.get("role"),
                    List.of(new ChatMessage.Part.Text((String) m.get("content"))), (String) m.get("name")));
        }
        boolean generationPrompt = (Boolean) c.get("add_generation_prompt");
        if (c.containsKey("raises")) {
            ChatTemplateException e = assertThrows(ChatTemplateException.class,
                    () -> template.render(messages, generationPrompt));
            assertEquals(c.get("raises"), e.getMessage());
        } else {
            assertEquals(c.get("expected"), template.render(messages, generationPrompt));
        }
    }

    @SuppressWarnings("unchecked")
    @Test
    void theFixtureCoversTheBuiltinModelsTemplate() {
        assertEquals(BuiltinModels.CHAT_TEMPLATE, ((Map<String, Object>) GOLDEN.get("templates")).get("builtin"));
        assertFalse(cases().toList().isEmpty());
    }
}
