import com.sun.source.util.JavacTask;

import java.io.File;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import javax.tools.Diagnostic;
import javax.tools.DiagnosticCollector;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.StandardJavaFileManager;
import javax.tools.ToolProvider;

/**
 * Parses Java sources without resolving symbols: the Android UI classes cannot be compiled here
 * (no Android SDK), but their syntax can be checked. Usage: java JavaSyntaxCheck.java FILE...
 * Exit status 1 on any syntax error.
 */
public final class JavaSyntaxCheck {
    public static void main(String[] args) throws Exception {
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        DiagnosticCollector<JavaFileObject> diags = new DiagnosticCollector<>();
        try (StandardJavaFileManager fm = javac.getStandardFileManager(diags, Locale.ROOT, null)) {
            List<File> files = new ArrayList<>();
            for (String a : args) files.add(new File(a));
            JavacTask task = (JavacTask) javac.getTask(null, fm, diags,
                    List.of("-proc:none", "--release", "17"), null, fm.getJavaFileObjectsFromFiles(files));
            task.parse();
        }
        int errors = 0;
        for (Diagnostic<? extends JavaFileObject> d : diags.getDiagnostics()) {
            if (d.getKind() != Diagnostic.Kind.ERROR) continue;
            errors++;
            System.out.println((d.getSource() == null ? "?" : d.getSource().getName()) + ":"
                    + d.getLineNumber() + ": " + d.getMessage(Locale.ROOT));
        }
        System.out.println(args.length + " files parsed, " + errors + " syntax errors");
        System.exit(errors == 0 ? 0 : 1);
    }
}
