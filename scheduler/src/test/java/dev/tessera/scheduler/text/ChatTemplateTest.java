package dev.tessera.scheduler.text;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.scheduler.core.ImageData;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** What the conformance fixture does not show: content parts, the helpers' edges, and what a template may not do. */
class ChatTemplateTest {
    private static final String ECHO = "{% for m in messages %}[{{ m.role }}:{{ m.content }}]{% endfor %}"
            + "{% if add_generation_prompt %}>{% endif %}";

    @Test
    void textPartsAreJoinedByNewlinesAsOneString() {
        ChatMessage m = new ChatMessage("user", List.of(new ChatMessage.Part.Text("a"),
                new ChatMessage.Part.Text("b")), null);
        assertEquals("[user:a\nb]>", new ChatTemplate(ECHO, "", "").render(List.of(m), true));
        assertEquals("[user:a\nb]", new ChatTemplate(ECHO, "", "").render(List.of(m), false));
    }

    @Test
    void contentWithAnImageIsAListOfTypedParts() {
        String template = "{% for p in messages[0].content %}{{ p.type }}{% if p.type == 'text' %}={{ p.text }}"
                + "{% endif %};{% endfor %}";
        ChatMessage m = new ChatMessage("user", List.of(new ChatMessage.Part.Text("look"),
                new ChatMessage.Part.Image(new ImageData(new byte[] {1}, ImageData.Format.PNG, 0, 0))), null);
        assertEquals("text=look;image;", new ChatTemplate(template, "", "").render(List.of(m), true));
    }

    @Test
    void raiseExceptionCarriesTheTemplatesWords() {
        ChatTemplate t = new ChatTemplate("{{ raise_exception('no system role, ' + messages[0].role) }}", "", "");
        ChatTemplateException e = assertThrows(ChatTemplateException.class,
                () -> t.render(List.of(ChatMessage.text("system", "x")), true));
        assertEquals("no system role, system", e.getMessage());
    }

    @Test
    void brokenTemplatesAndIncludesFailClearly() {
        ChatTemplateException broken = assertThrows(ChatTemplateException.class,
                () -> new ChatTemplate("{% for m in %}", "", "").render(List.of(ChatMessage.text("user", "x")), true));
        assertTrue(broken.getMessage().startsWith("the model's chat template failed"), broken.getMessage());
        ChatTemplateException include = assertThrows(ChatTemplateException.class,
                () -> new ChatTemplate("{% include '/etc/passwd' %}", "", "")
                        .render(List.of(ChatMessage.text("user", "x")), true));
        assertTrue(include.getMessage().contains("cannot include"), include.getMessage());
    }

    @Test
    void messageTextIsDataNeverTemplateSource() {
        String rendered = new ChatTemplate(ECHO, "", "")
                .render(List.of(ChatMessage.text("user", "{{ 7 * 7 }}{% raw %}")), false);
        assertEquals("[user:{{ 7 * 7 }}{% raw %}]", rendered);
    }

    @Test
    void tojsonWritesPythonsJsonDumps() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", "get \"weather\"\n");
        m.put("n", 3);
        m.put("x", 1.0);
        m.put("ok", true);
        m.put("list", List.of("é", Map.of()));
        assertEquals("{\"name\": \"get \\\"weather\\\"\\n\", \"n\": 3, \"x\": 1.0, \"ok\": true, \"list\": [\"é\", {}]}",
                PythonJson.dumps(m, -1));
        assertEquals("{\n  \"a\": [\n    1,\n    2\n  ]\n}", PythonJson.dumps(Map.of("a", List.of(1, 2)), 2));
    }

    @Test
    void strftimeSpeaksPythonsFormat() {
        ZonedDateTime t = ZonedDateTime.of(2024, 7, 5, 14, 3, 9, 0, ZoneOffset.UTC);
        assertEquals("05 Jul 2024", ChatTemplate.strftime(t, "%d %b %Y"));
        assertEquals("Friday, July 05 14:03:09 100%", ChatTemplate.strftime(t, "%A, %B %d %H:%M:%S 100%%"));
        String today = new ChatTemplate("{{ strftime_now('%Y') }}", "", "")
                .render(List.of(ChatMessage.text("user", "x")), false);
        assertEquals(4, today.length());
    }
}
