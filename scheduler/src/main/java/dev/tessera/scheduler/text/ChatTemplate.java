package dev.tessera.scheduler.text;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.el.JinjavaInterpreterResolver;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import java.io.IOException;
import java.lang.reflect.Method;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import jinjava.javax.el.CompositeELResolver;

/**
 * A model's chat template: turns chat messages into the prompt text the model was trained on, as Hugging Face's
 * {@code apply_chat_template(messages, tokenize=False, add_generation_prompt=...)} does. The template is the
 * checkpoint's own Jinja source ({@code tokenizer_config.json} or {@code chat_template.jinja}), run by Jinjava
 * configured as transformers configures Jinja2: {@code trim_blocks} and {@code lstrip_blocks}, the variables
 * {@code messages}, {@code add_generation_prompt}, {@code bos_token} and {@code eos_token}, the functions
 * {@code raise_exception(message)} and {@code strftime_now(format)}, Python's {@code str} methods
 * ({@link PythonStrings}) and Python's {@code tojson} ({@link PythonJson}).
 *
 * <p>Each message is a map with {@code role}, {@code content} and, when given, {@code name}. Content made only of
 * text parts is one string (the parts joined by newlines, as vLLM does for text models); content with an image is
 * a list of parts, {@code {"type": "text", "text": ...}} and {@code {"type": "image"}}, as vision models' templates
 * expect.
 *
 * <p>Templates come from the checkpoint, never from a client; messages are data, never template source. Templates
 * cannot include other files. Thread-safe: each render has its own interpreter.
 */
public final class ChatTemplate {
    /** The most characters a render may produce. */
    static final long MAX_OUTPUT_CHARS = 64L << 20;

    private static final Method RAISE = function("raiseException");
    private static final Method STRFTIME = function("strftimeNow");

    private final String source;
    private final String bosToken;
    private final String eosToken;
    private final Jinjava jinjava;

    /**
     * @param source   the Jinja template
     * @param bosToken what {@code bos_token} renders as
     * @param eosToken what {@code eos_token} renders as
     */
    public ChatTemplate(String source, String bosToken, String eosToken) {
        this.source = Objects.requireNonNull(source, "source");
        this.bosToken = Objects.requireNonNull(bosToken, "bosToken");
        this.eosToken = Objects.requireNonNull(eosToken, "eosToken");
        CompositeELResolver resolver = new CompositeELResolver();
        resolver.add(new PythonStrings());
        resolver.add(JinjavaInterpreterResolver.DEFAULT_RESOLVER_READ_ONLY);
        JinjavaConfig config = JinjavaConfig.newBuilder()
                .withTrimBlocks(true)
                .withLstripBlocks(true)
                .withElResolver(resolver)
                .withMaxOutputSize(MAX_OUTPUT_CHARS)
                .withLocale(Locale.ROOT)
                // Message text is data: never interpret what a variable's value looks like as a template.
                .withNestedInterpretationEnabled(false)
                // Jinja2's semantics where Jinjava's differ: {{- -}} trims around expressions, 'for k in dict'
                // walks keys, {k: v} evaluates k, operators bind as in Python, None stays in loops.
                .withLegacyOverrides(LegacyOverrides.newBuilder()
                        .withUseTrimmingForNotesAndExpressions(true)
                        .withIterateOverMapKeys(true)
                        .withEvaluateMapKeys(true)
                        .withUseNaturalOperatorPrecedence(true)
                        .withKeepNullableLoopValues(true)
                        .build())
                .build();
        this.jinjava = new Jinjava(config);
        jinjava.setResourceLocator((name, encoding, interpreter) -> {
            throw new IOException("a chat template cannot include '" + name + "'");
        });
        jinjava.registerFilter(new PythonJson());
        jinjava.registerFunction(new ELFunctionDefinition("", "raise_exception", RAISE));
        jinjava.registerFunction(new ELFunctionDefinition("", "strftime_now", STRFTIME));
    }

    /** The Jinja source. */
    public String source() {
        return source;
    }

    /**
     * Renders {@code messages}.
     *
     * @param addGenerationPrompt end with the header of the assistant's turn, so that the model answers
     * @throws ChatTemplateException when the template raises (its message) or fails
     */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
        Map<String, Object> context = new LinkedHashMap<>();
        context.put("messages", messages.stream().map(ChatTemplate::asMap).toList());
        context.put("add_generation_prompt", addGenerationPrompt);
        context.put("bos_token", bosToken);
        context.put("eos_token", eosToken);
        RenderResult result = jinjava.renderForResult(source, context);
        for (TemplateError e : result.getErrors()) {
            if (e.getSeverity() != TemplateError.ErrorType.FATAL) continue;
            Raised raised = raised(e.getException());
            if (raised != null) throw new ChatTemplateException(raised.getMessage());
            throw new ChatTemplateException("the model's chat template failed at line " + e.getLineno() + ": "
                    + e.getMessage());
        }
        return result.getOutput();
    }

    private static Map<String, Object> asMap(ChatMessage m) {
        Map<String, Object> map = new LinkedHashMap<>();
        map.put("role", m.role());
        if (m.textOnly()) {
            List<String> texts = new ArrayList<>();
            for (ChatMessage.Part p : m.content()) texts.add(((ChatMessage.Part.Text) p).text());
            map.put("content", String.join("\n", texts));
        } else {
            List<Map<String, Object>> parts = new ArrayList<>();
            for (ChatMessage.Part p : m.content()) {
                Map<String, Object> part = new LinkedHashMap<>();
                if (p instanceof ChatMessage.Part.Text t) {
                    part.put("type", "text");
                    part.put("text", t.text());
                } else {
                    part.put("type", "image");
                }
                parts.add(part);
            }
            map.put("content", parts);
        }
        if (m.name() != null) map.put("name", m.name());
        return map;
    }

    private static Raised raised(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof Raised r) return r;
        }
        return null;
    }

    /** What {@code raise_exception} throws: the template refused the messages. */
    static final class Raised extends RuntimeException {
        Raised(String message) {
            super(message, null, false, false);
        }
    }

    /** {@code raise_exception(message)}. */
    static Object raiseException(Object message) {
        throw new Raised(String.valueOf(message));
    }

    /** {@code strftime_now(format)}: the local time in Python's {@code strftime} notation. */
    static String strftimeNow(Object format) {
        return strftime(ZonedDateTime.now(), String.valueOf(format));
    }

    static String strftime(ZonedDateTime t, String format) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < format.length(); i++) {
            char c = format.charAt(i);
            if (c != '%' || i + 1 == format.length()) {
                b.append(c);
                continue;
            }
            char f = format.charAt(++i);
            String pattern = switch (f) {
                case 'd' -> "dd";
                case 'm' -> "MM";
                case 'Y' -> "yyyy";
                case 'y' -> "yy";
                case 'b' -> "MMM";
                case 'B' -> "MMMM";
                case 'a' -> "EEE";
                case 'A' -> "EEEE";
                case 'H' -> "HH";
                case 'I' -> "hh";
                case 'M' -> "mm";
                case 'S' -> "ss";
                case 'p' -> "a";
                default -> null;
            };
            if (f == '%') b.append('%');
            else if (pattern == null) b.append('%').append(f);
            else b.append(DateTimeFormatter.ofPattern(pattern, Locale.ENGLISH).format(t));
        }
        return b.toString();
    }

    private static Method function(String name) {
        try {
            Method m = ChatTemplate.class.getDeclaredMethod(name, Object.class);
            m.setAccessible(true);
            return m;
        } catch (NoSuchMethodException e) {
            throw new IllegalStateException(e);
        }
    }
}
