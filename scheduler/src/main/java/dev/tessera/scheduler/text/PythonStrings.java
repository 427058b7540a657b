package dev.tessera.scheduler.text;

import java.beans.FeatureDescriptor;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import jinjava.javax.el.ELContext;
import jinjava.javax.el.ELResolver;
import org.jspecify.annotations.Nullable;

/**
 * Python's {@code str} methods on strings inside a chat template, as Hugging Face templates call them
 * ({@code content.strip()}, {@code role.upper()}, {@code text.startswith('<tool')}, {@code text.split('</think>')},
 * {@code '\n'.join(parts)}...). Jinja2 runs templates in Python, where these exist; Jinjava would otherwise look
 * for Java methods of those names. Only method calls on strings are resolved here; everything else falls through
 * to Jinjava's own resolvers. Indexing a string ({@code role[0]}, {@code text[-1]}) gives a one-character string,
 * as in Python.
 */
final class PythonStrings extends ELResolver {
    private static final Object NONE = new Object();

    @Override
    public @Nullable Object invoke(ELContext context, @Nullable Object base, @Nullable Object method,
                                   Class<?> @Nullable [] paramTypes, Object @Nullable [] params) {
        if (!(base instanceof String s) || method == null) return null;
        Object[] args = params == null ? new Object[0] : params;
        Object result = call(s, method.toString(), args);
        if (result == NONE) return null;
        context.setPropertyResolved(true);
        return result;
    }

    private static Object call(String s, String method, Object[] a) {
        return switch (method) {
            case "strip" -> a.length == 0 || a[0] == null ? s.strip() : rstrip(lstrip(s, str(a[0])), str(a[0]));
            case "lstrip" -> a.length == 0 || a[0] == null ? s.stripLeading() : lstrip(s, str(a[0]));
            case "rstrip" -> a.length == 0 || a[0] == null ? s.stripTrailing() : rstrip(s, str(a[0]));
            case "upper" -> s.toUpperCase(Locale.ROOT);
            case "lower" -> s.toLowerCase(Locale.ROOT);
            case "capitalize" -> s.isEmpty() ? s
                    : s.substring(0, 1).toUpperCase(Locale.ROOT) + s.substring(1).toLowerCase(Locale.ROOT);
            case "title" -> title(s);
            case "startswith" -> a.length == 1 ? affix(s, a[0], true) : NONE;
            case "endswith" -> a.length == 1 ? affix(s, a[0], false) : NONE;
            case "split" -> split(s, a.length > 0 ? a[0] : null, a.length > 1 ? ((Number) a[1]).intValue() : -1);
            case "replace" -> a.length == 2 ? s.replace(str(a[0]), str(a[1])) : NONE;
            case "find" -> a.length == 1 ? s.indexOf(str(a[0])) : NONE;
            case "count" -> a.length == 1 ? count(s, str(a[0])) : NONE;
            case "join" -> a.length == 1 ? join(s, a[0]) : NONE;
            case "isspace" -> !s.isEmpty() && s.isBlank();
            default -> NONE;
        };
    }

    private static String str(Object o) {
        return String.valueOf(o);
    }

    private static String lstrip(String s, String chars) {
        int i = 0;
        while (i < s.length() && chars.indexOf(s.charAt(i)) >= 0) i++;
        return s.substring(i);
    }

    private static String rstrip(String s, String chars) {
        int i = s.length();
        while (i > 0 && chars.indexOf(s.charAt(i - 1)) >= 0) i--;
        return s.substring(0, i);
    }

    private static String title(String s) {
        StringBuilder b = new StringBuilder(s.length());
        boolean inWord = false;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            b.append(inWord ? Character.toLowerCase(c) : Character.toUpperCase(c));
            inWord = Character.isLetter(c);
        }
        return b.toString();
    }

    private static boolean affix(String s, Object what, boolean prefix) {
        if (what instanceof Collection<?> options) {
            for (Object o : options) {
                if (prefix ? s.startsWith(str(o)) : s.endsWith(str(o))) return true;
            }
            return false;
        }
        return prefix ? s.startsWith(str(what)) : s.endsWith(str(what));
    }

    /** Python's {@code str.split}: on runs of whitespace without a separator, else on the literal separator. */
    private static List<String> split(String s, @Nullable Object sep, int maxSplit) {
        List<String> out = new ArrayList<>();
        if (sep == null) {
            int i = 0;
            int n = s.length();
            while (true) {
                while (i < n && Character.isWhitespace(s.charAt(i))) i++;
                if (i >= n) break;
                if (maxSplit >= 0 && out.size() == maxSplit) {
                    out.add(s.substring(i).stripTrailing());
                    break;
                }
                int j = i;
                while (j < n && !Character.isWhitespace(s.charAt(j))) j++;
                out.add(s.substring(i, j));
                i = j;
            }
            return out;
        }
        String separator = str(sep);
        if (separator.isEmpty()) throw new IllegalArgumentException("empty separator");
        int from = 0;
        int at;
        while ((maxSplit < 0 || out.size() < maxSplit) && (at = s.indexOf(separator, from)) >= 0) {
            out.add(s.substring(from, at));
            from = at + separator.length();
        }
        out.add(s.substring(from));
        return out;
    }

    private static int count(String s, String sub) {
        if (sub.isEmpty()) return s.length() + 1;
        int n = 0;
        for (int at = s.indexOf(sub); at >= 0; at = s.indexOf(sub, at + sub.length())) n++;
        return n;
    }

    private static String join(String sep, Object items) {
        List<String> parts = new ArrayList<>();
        if (items instanceof Iterable<?> it) {
            for (Object o : it) parts.add(str(o));
        } else {
            return NONE == items ? "" : str(items);
        }
        return String.join(sep, parts);
    }

    /** {@code s[i]}: one character, counted from the end when negative. */
    @Override
    public @Nullable Object getValue(ELContext context, @Nullable Object base, Object property) {
        if (!(base instanceof String s)) return null;
        Integer index = index(property);
        if (index == null) return null;
        int i = index < 0 ? s.length() + index : index;
        if (i < 0 || i >= s.length()) return null;
        context.setPropertyResolved(true);
        return String.valueOf(s.charAt(i));
    }

    /** An index as Jinjava passes it: a number, or the digits of one. */
    private static @Nullable Integer index(Object property) {
        if (property instanceof Number n) return n.intValue();
        if (property instanceof String text && text.matches("-?\\d{1,9}")) return Integer.parseInt(text);
        return null;
    }

    @Override
    public @Nullable Class<?> getType(ELContext context, @Nullable Object base, Object property) {
        return null;
    }

    @Override
    public void setValue(ELContext context, @Nullable Object base, Object property, @Nullable Object value) {
        // Read only: nothing to set.
    }

    @Override
    public boolean isReadOnly(ELContext context, @Nullable Object base, Object property) {
        return true;
    }

    @Override
    public @Nullable Iterator<FeatureDescriptor> getFeatureDescriptors(ELContext context, @Nullable Object base) {
        return null;
    }

    @Override
    public @Nullable Class<?> getCommonPropertyType(ELContext context, @Nullable Object base) {
        return null;
    }
}
