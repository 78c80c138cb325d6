#!/usr/bin/env python3
"""c89.py: rewrite preprocessed C99 (infer/ and the C64 runtime) as the C89 that cc65 2.19 compiles.

cc65 2.19 rejects declarations after statements, declarations in a for header and `inline`.
infer/ is written in C99 for every other compiler; rather than fork it, the C64 exporter compiles
the very same sources after this purely syntactic rewrite (same expressions, same types, same
evaluation order; only scopes are made explicit):
  for (int i = 0; c; n) S     ->  { int i = 0; for (; c; n) S }
  { s1; s2; int x = e; s3; }  ->  { s1; s2; { int x = e; s3; } }
  static inline f             ->  static f         (and static functions nobody calls are dropped,
                                                     so each header's helpers cost no C64 RAM)
  f(lm_rq r) ... f(a, rq[i])   ->  f(lm_rq *r) ... (*r) ... f(a, &(rq[i]))
                                   (cc65 passes a struct by value only from a plain variable; the
                                   callees never assign their struct parameters, so a pointer to
                                   the caller's object is the same value)
  c ? s : "lit"                ->  c ? s : (const char *)"lit"   (cc65 wants equal pointer types)
  c ? p : NULL                 ->  c ? p : 0                     (the same reason)
  {[2] = x, [4] = y}           ->  {0, 0, x, 0, y}               (no designated initialisers in cc65)
  T a[2] = {x, y};             ->  T a[2]; a[0] = x; a[1] = y;   (cc65 initialises local arrays only
                                                                   from constants)

Given every file of the program in one run, it also drops the functions nothing in the program
calls (ld65 links whole object files, so an unused function would cost C64 RAM): main and the
names given with --keep (called from assembly) are the roots.

usage: c89.py [--keep NAME,...] [--drop NAME,...] IN.i OUT.c [IN.i OUT.c ...]
       (--drop: functions an assembly file defines instead; their prototypes stay)
       (IN.i: gcc -E -P -nostdinc -I export/c64/cpu/inc ... FILE.c)
"""
import sys

from pycparser import c_ast, c_generator, c_parser


def child_slots(node):
    """(attribute, index or None, child) for every child node of node."""
    for name in node.__slots__:
        if name in ('coord', '__weakref__'):
            continue
        v = getattr(node, name, None)
        if isinstance(v, c_ast.Node):
            yield name, None, v
        elif isinstance(v, list):
            for i, x in enumerate(v):
                if isinstance(x, c_ast.Node):
                    yield name, i, x


def rewrite(node):
    """Return node with its for-declarations and late declarations given their own blocks."""
    for name, i, ch in list(child_slots(node)):
        new = rewrite(ch)
        if new is not ch:
            if i is None:
                setattr(node, name, new)
            else:
                getattr(node, name)[i] = new
    if isinstance(node, c_ast.For) and isinstance(node.init, c_ast.DeclList):
        decls = node.init.decls
        node.init = None
        return c_ast.Compound(list(decls) + [node])
    if isinstance(node, c_ast.Compound) and node.block_items:
        node.block_items = nest(split_array_inits(node.block_items))
    if isinstance(node, c_ast.InitList):
        positional(node)
    return node


def positional(init):
    """{[2] = x, [5] = y} -> {0, 0, x, 0, 0, y}: array designators (C99) as a plain list."""
    if not init.exprs or not all(isinstance(x, c_ast.NamedInitializer) and len(x.name) == 1 and isinstance(x.name[0], c_ast.Constant)
                                 for x in init.exprs):
        return
    at = {int(x.name[0].value, 0): x.expr for x in init.exprs}
    init.exprs = [at.get(k, c_ast.Constant('int', '0')) for k in range(max(at) + 1)]


def split_array_inits(items):
    """Local arrays initialised from non-constant expressions: declaration, then assignments."""
    out = []
    for it in items:
        if (isinstance(it, c_ast.Decl) and isinstance(it.type, c_ast.ArrayDecl) and isinstance(it.init, c_ast.InitList)
                and 'static' not in (it.storage or [])
                and not all(isinstance(x, c_ast.Constant) for x in it.init.exprs)):
            exprs = it.init.exprs
            it.init = None
            out.append(it)
            for k, x in enumerate(exprs):
                out.append(c_ast.Assignment('=', c_ast.ArrayRef(c_ast.ID(it.name), c_ast.Constant('int', str(k))), x))
        else:
            out.append(it)
    return out


def nest(items):
    """Block items with every declaration that follows a statement opening a new inner block."""
    seen_stmt = False
    for k, it in enumerate(items):
        if isinstance(it, c_ast.Decl) or isinstance(it, c_ast.Typedef):
            if seen_stmt:
                return items[:k] + [c_ast.Compound(nest(items[k:]))]
        else:
            seen_stmt = True
    return items


def drop_inline(ast):
    for ext in ast.ext:
        d = ext.decl if isinstance(ext, c_ast.FuncDef) else ext
        if isinstance(d, c_ast.Decl) and 'inline' in (d.funcspec or []):
            d.funcspec = [f for f in d.funcspec if f != 'inline']


class Names(c_ast.NodeVisitor):
    def __init__(self):
        self.names = set()

    def visit_ID(self, node):
        self.names.add(node.name)


def drop_unused_static(ast):
    """Remove static functions (definitions and prototypes) that nothing left refers to."""
    while True:
        used = set()
        for ext in ast.ext:
            v = Names()
            v.visit(ext.body if isinstance(ext, c_ast.FuncDef) else ext)
            if isinstance(ext, c_ast.FuncDef):
                v.names.discard(ext.decl.name)
            used |= v.names
        keep = []
        for ext in ast.ext:
            d = ext.decl if isinstance(ext, c_ast.FuncDef) else ext
            static_fn = isinstance(d, c_ast.Decl) and 'static' in (d.storage or []) and isinstance(d.type, c_ast.FuncDecl)
            if static_fn and d.name not in used:
                continue
            keep.append(ext)
        if len(keep) == len(ast.ext):
            return
        ast.ext = keep


def struct_typedefs(ast):
    return {e.name for e in ast.ext if isinstance(e, c_ast.Typedef) and isinstance(e.type.type, c_ast.Struct)}


def by_value_params(fdecl, structs):
    """Indices and names of the parameters of FuncDecl fdecl that are structs passed by value."""
    out = []
    for i, p in enumerate((fdecl.args.params if fdecl.args else []) or []):
        t = getattr(p, 'type', None)
        if isinstance(t, c_ast.TypeDecl) and isinstance(t.type, c_ast.IdentifierType) and t.type.names[-1] in structs:
            out.append((i, p.name))
            if 'const' not in t.quals:
                t.quals = t.quals + ['const']
            p.type = c_ast.PtrDecl([], t)
    return out


class Deref(c_ast.NodeVisitor):
    """Replace every ID in names by (*ID) (applied through the parent's slots)."""
    def __init__(self, names):
        self.names = names

    def generic_visit(self, node):
        for name, i, ch in list(child_slots(node)):
            if isinstance(ch, c_ast.ID) and ch.name in self.names:
                new = c_ast.UnaryOp('*', ch)
                if i is None:
                    setattr(node, name, new)
                else:
                    getattr(node, name)[i] = new
            else:
                self.visit(ch)


class Calls(c_ast.NodeVisitor):
    def __init__(self, funcs):
        self.funcs = funcs

    def visit_FuncCall(self, node):
        self.generic_visit(node)
        if isinstance(node.name, c_ast.ID) and node.name.name in self.funcs and node.args:
            for i in self.funcs[node.name.name]:
                node.args.exprs[i] = c_ast.UnaryOp('&', node.args.exprs[i])


class Ternary(c_ast.NodeVisitor):
    def visit_TernaryOp(self, node):
        self.generic_visit(node)
        for side in ('iftrue', 'iffalse'):
            v = getattr(node, side)
            if isinstance(v, c_ast.Constant) and v.type == 'string':
                t = c_ast.Typename(None, [], None, c_ast.PtrDecl([], c_ast.TypeDecl(None, ['const'], None, c_ast.IdentifierType(['char']))))
                setattr(node, side, c_ast.Cast(t, v))
            elif (isinstance(v, c_ast.Cast) and isinstance(v.to_type.type, c_ast.PtrDecl) and isinstance(v.expr, c_ast.Constant)
                  and v.expr.value == '0'):
                setattr(node, side, v.expr)  # c ? p : NULL -> c ? p : 0 (a null pointer constant of p's type)


def struct_args_by_pointer(ast):
    structs = struct_typedefs(ast)
    funcs = {}
    for ext in ast.ext:
        d = ext.decl if isinstance(ext, c_ast.FuncDef) else ext
        if isinstance(d, c_ast.Decl) and isinstance(d.type, c_ast.FuncDecl):
            ps = by_value_params(d.type, structs)
            if ps:
                funcs[d.name] = [i for i, _ in ps]
                if isinstance(ext, c_ast.FuncDef):
                    Deref({n for _, n in ps}).visit(ext.body)
    Calls(funcs).visit(ast)


def referenced(ext):
    v = Names()
    v.visit(ext.body if isinstance(ext, c_ast.FuncDef) else ext)
    if isinstance(ext, c_ast.FuncDef):
        v.names.discard(ext.decl.name)
    return v.names


def drop_unused_functions(asts, keep):
    """Remove function definitions nothing in the whole program refers to (fixpoint)."""
    while True:
        used = set(keep)
        for ast in asts:
            for ext in ast.ext:
                used |= referenced(ext)
        removed = False
        for ast in asts:
            n = len(ast.ext)
            ast.ext = [e for e in ast.ext if not (isinstance(e, c_ast.FuncDef) and e.decl.name not in used)]
            removed |= len(ast.ext) != n
        if not removed:
            return


def convert(parser, src, name):
    ast = parser.parse(src, filename=name)
    drop_inline(ast)
    struct_args_by_pointer(ast)
    Ternary().visit(ast)
    for i, ext in enumerate(ast.ext):
        if isinstance(ext, c_ast.FuncDef):
            rewrite(ext.body)
        elif isinstance(ext, c_ast.Decl) and isinstance(ext.init, c_ast.InitList):
            positional(ext.init)
    drop_unused_static(ast)
    return ast


def main():
    args = sys.argv[1:]
    keep, drop = {'main'}, set()
    while args[:1] in (['--keep'], ['--drop']):
        (keep if args[0] == '--keep' else drop).update(args[1].split(','))
        args = args[2:]
    if not args or len(args) % 2:
        sys.exit('usage: c89.py [--keep NAME,...] [--drop NAME,...] IN.i OUT.c [IN.i OUT.c ...]')
    parser = c_parser.CParser()
    asts = []
    for i in range(0, len(args), 2):
        with open(args[i]) as f:
            src = f.read()
        try:
            asts.append(convert(parser, src, args[i]))
        except c_parser.ParseError as e:
            sys.exit('c89.py: %s' % e)
    for ast in asts:  # functions an assembly file defines instead (their prototypes stay)
        ast.ext = [e for e in ast.ext if not (isinstance(e, c_ast.FuncDef) and e.decl.name in drop)]
    drop_unused_functions(asts, keep)
    for i, ast in zip(range(0, len(args), 2), asts):
        with open(args[i + 1], 'w') as f:
            f.write(c_generator.CGenerator().visit(ast))


if __name__ == '__main__':
    main()
