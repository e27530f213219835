//! The parser of Go 1.23's `text/template/parse`: builds the trees of one template text (the
//! top-level template and every `{{define}}`/`{{block}}` in it) with Go's grammar, scoping
//! checks and error messages.

use std::collections::HashMap;
use std::sync::Arc;

use crate::ast::{Arg, Branch, Callee, Command, Node, Number, Pipe, TemplateCall, Tree};
use crate::builtins::Builtin;
use crate::error::ParseError;
use crate::funcs::FuncMap;
use crate::funcs::convert::underscore_ok;
use crate::lex::{Item, ItemType, Lexer, go_quote};
use crate::value::Value;

/// How deeply blocks (`if`, `range`, `with`, `define` bodies) and parenthesized pipelines may
/// nest. Go has no limit; this one keeps hostile input from exhausting memory or stack.
pub(crate) const MAX_NESTING: usize = 1000;

/// State shared by the parsers of the trees of one text.
struct Shared<'a, 'f> {
    lex: Lexer<'a>,
    funcs: &'f FuncMap,
    text: Arc<str>,
    parse_name: Arc<str>,
    /// The trees defined so far, in definition order.
    trees: Vec<Tree>,
    index: HashMap<Arc<str>, usize>,
    depth: usize,
}

/// Parses `text` as the template `name`: returns every tree it defines, the top-level one
/// included (Go's `parse.Parse`).
pub(crate) fn parse(name: &str, text: &str, funcs: &FuncMap) -> Result<Vec<Tree>, ParseError> {
    let name: Arc<str> = Arc::from(name);
    let mut lex = Lexer::new(text, "", "");
    lex.break_ok = !has_function(funcs, "break");
    lex.continue_ok = !has_function(funcs, "continue");
    let mut shared = Shared {
        lex,
        funcs,
        text: Arc::from(text),
        parse_name: name.clone(),
        trees: Vec::new(),
        index: HashMap::new(),
        depth: 0,
    };
    let mut p = TreeParser::new(&mut shared, name);
    let root = p.parse_top()?;
    p.add(root)?;
    Ok(shared.trees)
}

fn has_function(funcs: &FuncMap, name: &str) -> bool {
    funcs.contains(name) || Builtin::lookup(name).is_some()
}

/// What `textOrAction` returns: a node, or the `{{end}}`/`{{else}}` that ends a list.
enum Parsed {
    Node(Node),
    End,
    Else,
}

impl Parsed {
    fn describe(&self) -> String {
        match self {
            Parsed::Node(n) => n.to_string(),
            Parsed::End => "{{end}}".into(),
            Parsed::Else => "{{else}}".into(),
        }
    }
}

/// The parser of one tree (Go's `*parse.Tree` while parsing): its own token look-ahead and
/// variable scope, sharing the lexer with the trees around it.
struct TreeParser<'s, 'a, 'f> {
    sh: &'s mut Shared<'a, 'f>,
    name: Arc<str>,
    token: [Item<'a>; 3],
    peek_count: usize,
    vars: Vec<Arc<str>>,
    action_line: usize,
    range_depth: usize,
}

fn blank_item<'a>() -> Item<'a> {
    Item {
        typ: ItemType::Eof,
        pos: 0,
        val: "".into(),
        line: 0,
    }
}

type PResult<T> = Result<T, ParseError>;

impl<'s, 'a, 'f> TreeParser<'s, 'a, 'f> {
    fn new(sh: &'s mut Shared<'a, 'f>, name: Arc<str>) -> Self {
        TreeParser {
            sh,
            name,
            token: [blank_item(), blank_item(), blank_item()],
            peek_count: 0,
            vars: vec![Arc::from("$")],
            action_line: 0,
            range_depth: 0,
        }
    }

    fn next(&mut self) -> Item<'a> {
        if self.peek_count > 0 {
            self.peek_count -= 1;
        } else {
            self.token[0] = self.sh.lex.next_item();
        }
        self.token[self.peek_count].clone()
    }

    fn backup(&mut self) {
        self.peek_count += 1;
    }

    fn backup2(&mut self, t1: Item<'a>) {
        self.token[1] = t1;
        self.peek_count = 2;
    }

    fn backup3(&mut self, t2: Item<'a>, t1: Item<'a>) {
        self.token[1] = t1;
        self.token[2] = t2;
        self.peek_count = 3;
    }

    fn peek(&mut self) -> Item<'a> {
        if self.peek_count > 0 {
            return self.token[self.peek_count - 1].clone();
        }
        self.peek_count = 1;
        self.token[0] = self.sh.lex.next_item();
        self.token[0].clone()
    }

    fn next_non_space(&mut self) -> Item<'a> {
        loop {
            let t = self.next();
            if t.typ != ItemType::Space {
                return t;
            }
        }
    }

    fn peek_non_space(&mut self) -> Item<'a> {
        let t = self.next_non_space();
        self.backup();
        t
    }

    fn error(&self, message: impl Into<String>) -> ParseError {
        ParseError {
            name: self.sh.parse_name.to_string(),
            line: self.token[0].line,
            message: message.into(),
        }
    }

    fn expect(&mut self, expected: ItemType, context: &str) -> PResult<Item<'a>> {
        let token = self.next_non_space();
        if token.typ != expected {
            return Err(self.unexpected(&token, context));
        }
        Ok(token)
    }

    fn unexpected(&self, token: &Item<'a>, context: &str) -> ParseError {
        if token.typ == ItemType::Error {
            let mut extra = String::new();
            if self.action_line != 0 && self.action_line != token.line {
                extra = format!(
                    " in action started at {}:{}",
                    self.sh.parse_name, self.action_line
                );
                if token.val.ends_with(" action") {
                    extra = extra[" in action".len()..].to_string();
                }
            }
            return self.error(format!("{token}{extra}"));
        }
        self.error(format!("unexpected {token} in {context}"))
    }

    /// Adds a finished tree to the set (Go's `Tree.add`).
    fn add(&mut self, root: Vec<Node>) -> PResult<()> {
        let tree = Tree {
            name: self.name.clone(),
            parse_name: self.sh.parse_name.clone(),
            text: self.sh.text.clone(),
            root,
        };
        match self.sh.index.get(&self.name) {
            None => {
                self.sh.index.insert(self.name.clone(), self.sh.trees.len());
                self.sh.trees.push(tree);
            }
            Some(&i) => {
                if self.sh.trees[i].is_empty() {
                    self.sh.trees[i] = tree;
                } else if !tree.is_empty() {
                    return Err(self.error(format!(
                        "template: multiple definition of template {}",
                        go_quote(&self.name)
                    )));
                }
            }
        }
        Ok(())
    }

    fn enter(&mut self) -> PResult<()> {
        self.sh.depth += 1;
        if self.sh.depth > MAX_NESTING {
            return Err(self.error(format!("exceeded maximum nesting depth ({MAX_NESTING})")));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.sh.depth -= 1;
    }

    /// The top level: text, actions and `{{define}}`s, up to EOF.
    fn parse_top(&mut self) -> PResult<Vec<Node>> {
        let mut root = Vec::new();
        while self.peek().typ != ItemType::Eof {
            if self.peek().typ == ItemType::LeftDelim {
                let delim = self.next();
                if self.next_non_space().typ == ItemType::Define {
                    let mut def = TreeParser::new(&mut *self.sh, Arc::from("definition"));
                    def.parse_definition()?;
                    continue;
                }
                self.backup2(delim);
            }
            match self.text_or_action()? {
                Parsed::Node(n) => root.push(n),
                other => return Err(self.error(format!("unexpected {}", other.describe()))),
            }
        }
        Ok(root)
    }

    fn parse_definition(&mut self) -> PResult<()> {
        const CONTEXT: &str = "define clause";
        let token = self.next_non_space();
        if token.typ != ItemType::String && token.typ != ItemType::RawString {
            return Err(self.unexpected(&token, CONTEXT));
        }
        let name = unquote(&token.val).map_err(|e| self.error(e))?;
        self.name = Arc::from(name);
        self.expect(ItemType::RightDelim, CONTEXT)?;
        self.enter()?;
        let (root, end) = self.item_list()?;
        self.leave();
        if !matches!(end, Parsed::End) {
            return Err(self.error(format!("unexpected {} in {CONTEXT}", end.describe())));
        }
        self.add(root)
    }

    fn item_list(&mut self) -> PResult<(Vec<Node>, Parsed)> {
        let mut list = Vec::new();
        while self.peek_non_space().typ != ItemType::Eof {
            match self.text_or_action()? {
                Parsed::Node(n) => list.push(n),
                end => return Ok((list, end)),
            }
        }
        Err(self.error("unexpected EOF"))
    }

    fn text_or_action(&mut self) -> PResult<Parsed> {
        let token = self.next_non_space();
        match token.typ {
            ItemType::Text => Ok(Parsed::Node(Node::Text {
                pos: token.pos,
                text: token.val.as_ref().into(),
            })),
            ItemType::LeftDelim => {
                self.action_line = token.line;
                let r = stacker::maybe_grow(64 * 1024, 1024 * 1024, || self.action());
                self.action_line = 0;
                r
            }
            _ => Err(self.unexpected(&token, "input")),
        }
    }

    fn action(&mut self) -> PResult<Parsed> {
        let token = self.next_non_space();
        match token.typ {
            ItemType::Block => return self.block_control().map(Parsed::Node),
            ItemType::Break => return self.break_control(token.pos, true).map(Parsed::Node),
            ItemType::Continue => return self.break_control(token.pos, false).map(Parsed::Node),
            ItemType::Else => return self.else_control(),
            ItemType::End => {
                self.expect(ItemType::RightDelim, "end")?;
                return Ok(Parsed::End);
            }
            ItemType::If => return self.branch_control("if").map(Parsed::Node),
            ItemType::Range => return self.branch_control("range").map(Parsed::Node),
            ItemType::Template => return self.template_control().map(Parsed::Node),
            ItemType::With => return self.branch_control("with").map(Parsed::Node),
            _ => {}
        }
        self.backup();
        let token = self.peek();
        let pipe = self.pipeline("command", ItemType::RightDelim)?;
        Ok(Parsed::Node(Node::Action {
            pos: token.pos,
            pipe,
        }))
    }

    fn break_control(&mut self, pos: usize, is_break: bool) -> PResult<Node> {
        let word = if is_break { "break" } else { "continue" };
        let token = self.next_non_space();
        if token.typ != ItemType::RightDelim {
            return Err(self.unexpected(&token, &format!("{{{{{word}}}}}")));
        }
        if self.range_depth == 0 {
            return Err(self.error(format!("{{{{{word}}}}} outside {{{{range}}}}")));
        }
        Ok(if is_break {
            Node::Break { pos }
        } else {
            Node::Continue { pos }
        })
    }

    fn pipeline(&mut self, context: &str, end: ItemType) -> PResult<Pipe> {
        self.enter()?;
        let r = stacker::maybe_grow(64 * 1024, 1024 * 1024, || self.pipeline_inner(context, end));
        self.leave();
        r
    }

    fn pipeline_inner(&mut self, context: &str, end: ItemType) -> PResult<Pipe> {
        let token = self.peek_non_space();
        let mut pipe = Pipe {
            pos: token.pos,
            is_assign: false,
            decl: Vec::new(),
            cmds: Vec::new(),
        };
        // Declarations or assignments.
        loop {
            let v = self.peek_non_space();
            if v.typ != ItemType::Variable {
                break;
            }
            self.next();
            let token_after_variable = self.peek();
            let next = self.peek_non_space();
            if next.typ == ItemType::Assign || next.typ == ItemType::Declare {
                pipe.is_assign = next.typ == ItemType::Assign;
                self.next_non_space();
                let name: Arc<str> = Arc::from(v.val.as_ref());
                pipe.decl.push(name.clone());
                self.vars.push(name);
            } else if next.typ == ItemType::Char && next.val == "," {
                self.next_non_space();
                let name: Arc<str> = Arc::from(v.val.as_ref());
                pipe.decl.push(name.clone());
                self.vars.push(name);
                if context == "range" && pipe.decl.len() < 2 {
                    match self.peek_non_space().typ {
                        ItemType::Variable | ItemType::RightDelim | ItemType::RightParen => {
                            continue;
                        }
                        _ => return Err(self.error("range can only initialize variables")),
                    }
                }
                return Err(self.error(format!("too many declarations in {context}")));
            } else if token_after_variable.typ == ItemType::Space {
                self.backup3(v, token_after_variable);
            } else {
                self.backup2(v);
            }
            break;
        }
        loop {
            let token = self.next_non_space();
            if token.typ == end {
                self.check_pipeline(&pipe, context)?;
                return Ok(pipe);
            }
            match token.typ {
                ItemType::Bool
                | ItemType::CharConstant
                | ItemType::Complex
                | ItemType::Dot
                | ItemType::Field
                | ItemType::Identifier
                | ItemType::Number
                | ItemType::Nil
                | ItemType::RawString
                | ItemType::String
                | ItemType::Variable
                | ItemType::LeftParen => {
                    self.backup();
                    let cmd = self.command()?;
                    pipe.cmds.push(cmd);
                }
                _ => return Err(self.unexpected(&token, context)),
            }
        }
    }

    fn check_pipeline(&self, pipe: &Pipe, context: &str) -> PResult<()> {
        if pipe.cmds.is_empty() {
            return Err(self.error(format!("missing value for {context}")));
        }
        for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
            if c.args.first().is_some_and(Arg::is_literal_or_dot) {
                return Err(self.error(format!(
                    "non executable command in pipeline stage {}",
                    i + 1
                )));
            }
        }
        Ok(())
    }

    fn branch_control(&mut self, context: &str) -> PResult<Node> {
        self.enter()?;
        let mark = self.vars.len();
        let r = self.parse_control(context);
        self.vars.truncate(mark);
        self.leave();
        let branch = Box::new(r?);
        Ok(match context {
            "if" => Node::If(branch),
            "range" => Node::Range(branch),
            _ => Node::With(branch),
        })
    }

    fn parse_control(&mut self, context: &str) -> PResult<Branch> {
        let pipe = self.pipeline(context, ItemType::RightDelim)?;
        if context == "range" {
            self.range_depth += 1;
        }
        let (list, next) = self.item_list()?;
        if context == "range" {
            self.range_depth -= 1;
        }
        let mut else_list = None;
        if let Parsed::Else = next {
            // `{{else if}}` and `{{else with}}` are parsed as `{{else}}{{if …}}…{{end}}{{end}}`.
            let peek = self.peek().typ;
            if context == "if" && peek == ItemType::If {
                self.next();
                else_list = Some(vec![self.branch_control("if")?]);
            } else if context == "with" && peek == ItemType::With {
                self.next();
                else_list = Some(vec![self.branch_control("with")?]);
            } else {
                let (list, next) = self.item_list()?;
                if !matches!(next, Parsed::End) {
                    return Err(self.error(format!("expected end; found {}", next.describe())));
                }
                else_list = Some(list);
            }
        }
        Ok(Branch {
            pos: pipe.pos,
            pipe,
            list,
            else_list,
        })
    }

    fn else_control(&mut self) -> PResult<Parsed> {
        let peek = self.peek_non_space();
        if peek.typ == ItemType::If || peek.typ == ItemType::With {
            return Ok(Parsed::Else);
        }
        self.expect(ItemType::RightDelim, "else")?;
        Ok(Parsed::Else)
    }

    fn block_control(&mut self) -> PResult<Node> {
        const CONTEXT: &str = "block clause";
        let token = self.next_non_space();
        let name = self.parse_template_name(&token, CONTEXT)?;
        let pipe = self.pipeline(CONTEXT, ItemType::RightDelim)?;
        let name: Arc<str> = Arc::from(name);
        self.enter()?;
        let end_error = {
            let mut block = TreeParser::new(&mut *self.sh, name.clone());
            let (root, end) = block.item_list()?;
            if matches!(end, Parsed::End) {
                block.add(root)?;
                None
            } else {
                Some(end.describe())
            }
        };
        if let Some(end) = end_error {
            return Err(self.error(format!("unexpected {end} in {CONTEXT}")));
        }
        self.leave();
        Ok(Node::Template(Box::new(TemplateCall {
            pos: token.pos,
            name,
            pipe: Some(pipe),
        })))
    }

    fn template_control(&mut self) -> PResult<Node> {
        const CONTEXT: &str = "template clause";
        let token = self.next_non_space();
        let name = self.parse_template_name(&token, CONTEXT)?;
        let mut pipe = None;
        if self.next_non_space().typ != ItemType::RightDelim {
            self.backup();
            pipe = Some(self.pipeline(CONTEXT, ItemType::RightDelim)?);
        }
        Ok(Node::Template(Box::new(TemplateCall {
            pos: token.pos,
            name: Arc::from(name),
            pipe,
        })))
    }

    fn parse_template_name(&self, token: &Item<'a>, context: &str) -> PResult<String> {
        match token.typ {
            ItemType::String | ItemType::RawString => {
                unquote(&token.val).map_err(|e| self.error(e))
            }
            _ => Err(self.unexpected(token, context)),
        }
    }

    fn command(&mut self) -> PResult<Command> {
        let mut cmd = Command {
            pos: self.peek_non_space().pos,
            args: Vec::new(),
        };
        loop {
            self.peek_non_space();
            if let Some(operand) = self.operand()? {
                cmd.args.push(operand);
            }
            let token = self.next();
            match token.typ {
                ItemType::Space => continue,
                ItemType::RightDelim | ItemType::RightParen => self.backup(),
                ItemType::Pipe => {}
                _ => return Err(self.unexpected(&token, "operand")),
            }
            break;
        }
        if cmd.args.is_empty() {
            return Err(self.error("empty command"));
        }
        Ok(cmd)
    }

    fn operand(&mut self) -> PResult<Option<Arg>> {
        let Some(node) = self.term()? else {
            return Ok(None);
        };
        if self.peek().typ != ItemType::Field {
            return Ok(Some(node));
        }
        let chain_pos = self.peek().pos;
        let mut fields: Vec<Arc<str>> = Vec::new();
        while self.peek().typ == ItemType::Field {
            let f = self.next();
            fields.push(Arc::from(f.val.get(1..).unwrap_or("")));
        }
        Ok(Some(match node {
            Arg::Field { idents, .. } => {
                let mut all = idents.into_vec();
                all.extend(fields);
                Arg::Field {
                    pos: chain_pos,
                    idents: all.into_boxed_slice(),
                }
            }
            Arg::Variable {
                name, fields: f0, ..
            } => {
                let mut all = f0.into_vec();
                all.extend(fields);
                Arg::Variable {
                    pos: chain_pos,
                    name,
                    fields: all.into_boxed_slice(),
                }
            }
            Arg::Bool { .. }
            | Arg::String { .. }
            | Arg::Number { .. }
            | Arg::Nil { .. }
            | Arg::Dot { .. } => {
                return Err(self.error(format!(
                    "unexpected . after term {}",
                    go_quote(&node.to_string())
                )));
            }
            other => Arg::Chain {
                pos: chain_pos,
                node: Box::new(other),
                fields: fields.into_boxed_slice(),
            },
        }))
    }

    fn term(&mut self) -> PResult<Option<Arg>> {
        let token = self.next_non_space();
        let pos = token.pos;
        Ok(Some(match token.typ {
            ItemType::Identifier => {
                let name = token.val.as_ref();
                let callee = match self.sh.funcs.get(name) {
                    Some(f) => Callee::Func(f.clone()),
                    None => match Builtin::lookup(name) {
                        Some(b) => Callee::Builtin(b),
                        None => {
                            return Err(
                                self.error(format!("function {} not defined", go_quote(name)))
                            );
                        }
                    },
                };
                Arg::Identifier {
                    pos,
                    name: Arc::from(name),
                    callee,
                }
            }
            ItemType::Dot => Arg::Dot { pos },
            ItemType::Nil => Arg::Nil { pos },
            ItemType::Variable => {
                let name = token.val.as_ref();
                if !self.vars.iter().any(|v| &**v == name) {
                    return Err(self.error(format!("undefined variable {}", go_quote(name))));
                }
                Arg::Variable {
                    pos,
                    name: Arc::from(name),
                    fields: Box::new([]),
                }
            }
            ItemType::Field => Arg::Field {
                pos,
                idents: vec![Arc::from(token.val.get(1..).unwrap_or(""))].into_boxed_slice(),
            },
            ItemType::Bool => Arg::Bool {
                pos,
                value: token.val == "true",
            },
            ItemType::CharConstant | ItemType::Complex | ItemType::Number => {
                let number = new_number(&token.val, token.typ).map_err(|e| self.error(e))?;
                Arg::Number {
                    pos,
                    number: Box::new(number),
                }
            }
            ItemType::LeftParen => Arg::Pipe(Box::new(
                self.pipeline("parenthesized pipeline", ItemType::RightParen)?,
            )),
            ItemType::String | ItemType::RawString => {
                let s = unquote(&token.val).map_err(|e| self.error(e))?;
                Arg::String {
                    pos,
                    quoted: token.val.as_ref().into(),
                    value: Value::String(Arc::from(s)),
                }
            }
            _ => {
                self.backup();
                return Ok(None);
            }
        }))
    }
}

// ---------------------------------------------------------------------------------------
// Literals: Go's strconv rules for numbers, strings and characters.

const SYNTAX: &str = "invalid syntax";

/// Go's `strconv.Unquote` for `"…"` and `` `…` `` literals.
pub(crate) fn unquote(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    if bytes.len() < 2 {
        return Err(SYNTAX.into());
    }
    let quote = bytes[0];
    if !matches!(quote, b'"' | b'`') || quote != bytes[bytes.len() - 1] {
        return Err(SYNTAX.into());
    }
    let body = &s[1..s.len() - 1];
    match quote {
        b'`' => {
            if body.contains('`') {
                return Err(SYNTAX.into());
            }
            Ok(body.replace('\r', ""))
        }
        b'"' => {
            if body.contains('\n') {
                return Err(SYNTAX.into());
            }
            if !body.contains(['\\', '"']) {
                return Ok(body.to_string());
            }
            let mut out: Vec<u8> = Vec::with_capacity(body.len());
            let mut rest = body;
            while !rest.is_empty() {
                let (piece, tail) = unquote_char(rest, '"')?;
                match piece {
                    Piece::Char(c) => {
                        let mut buf = [0u8; 4];
                        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    }
                    Piece::Byte(b) => out.push(b),
                }
                rest = tail;
            }
            // Go strings may hold any bytes; ours are UTF-8, so `\x` escapes that do not form
            // valid UTF-8 become U+FFFD.
            Ok(String::from_utf8_lossy(&out).into_owned())
        }
        _ => Err(SYNTAX.into()),
    }
}

enum Piece {
    Char(char),
    Byte(u8),
}

/// Go's `strconv.UnquoteChar`: decodes the first character or escape of `s`.
fn unquote_char(s: &str, quote: char) -> Result<(Piece, &str), String> {
    let mut chars = s.chars();
    let c = chars.next().ok_or(SYNTAX)?;
    if c == quote && (quote == '\'' || quote == '"') {
        return Err(SYNTAX.into());
    }
    if c != '\\' {
        return Ok((Piece::Char(c), chars.as_str()));
    }
    let rest = chars.as_str();
    let e = rest.chars().next().ok_or(SYNTAX)?;
    let after = &rest[e.len_utf8()..];
    let simple = match e {
        'a' => Some('\u{7}'),
        'b' => Some('\u{8}'),
        'f' => Some('\u{c}'),
        'n' => Some('\n'),
        'r' => Some('\r'),
        't' => Some('\t'),
        'v' => Some('\u{b}'),
        '\\' => Some('\\'),
        '\'' | '"' => {
            if e != quote {
                return Err(SYNTAX.into());
            }
            Some(e)
        }
        _ => None,
    };
    if let Some(c) = simple {
        return Ok((Piece::Char(c), after));
    }
    match e {
        'x' | 'u' | 'U' => {
            let n = match e {
                'x' => 2,
                'u' => 4,
                _ => 8,
            };
            let digits = after.get(..n).ok_or(SYNTAX)?;
            let v = u32::from_str_radix(digits, 16).map_err(|_| SYNTAX)?;
            if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(SYNTAX.into());
            }
            let tail = &after[n..];
            if e == 'x' {
                if quote == '\'' {
                    return Ok((Piece::Char(char::from_u32(v).ok_or(SYNTAX)?), tail));
                }
                return Ok((Piece::Byte(v as u8), tail));
            }
            Ok((Piece::Char(char::from_u32(v).ok_or(SYNTAX)?), tail))
        }
        '0'..='7' => {
            let digits = rest.get(..3).ok_or(SYNTAX)?;
            if !digits.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
                return Err(SYNTAX.into());
            }
            let v = u32::from_str_radix(digits, 8).map_err(|_| SYNTAX)?;
            if v > 255 {
                return Err(SYNTAX.into());
            }
            let tail = &rest[3..];
            if quote == '\'' {
                return Ok((Piece::Char(char::from_u32(v).ok_or(SYNTAX)?), tail));
            }
            Ok((Piece::Byte(v as u8), tail))
        }
        _ => Err(SYNTAX.into()),
    }
}

/// Go's `parse.newNumber`.
pub(crate) fn new_number(text: &str, typ: ItemType) -> Result<Number, String> {
    let mut n = Number {
        text: text.into(),
        ..Number::default()
    };
    match typ {
        ItemType::CharConstant => {
            let inner = text.get(1..).ok_or(SYNTAX)?;
            let (piece, tail) = unquote_char(inner, '\'')?;
            if tail != "'" {
                return Err(format!("malformed character constant: {text}"));
            }
            let r = match piece {
                Piece::Char(c) => c as u32,
                Piece::Byte(b) => u32::from(b),
            };
            n.int64 = i64::from(r);
            n.is_int = true;
            n.uint64 = u64::from(r);
            n.is_uint = true;
            n.float64 = f64::from(r);
            n.is_float = true;
            return Ok(n);
        }
        ItemType::Complex => {
            // `1+2i`: a real part followed by a signed imaginary part.
            let split = text
                .char_indices()
                .skip(1)
                .filter(|&(i, c)| {
                    (c == '+' || c == '-')
                        && !matches!(text.as_bytes().get(i - 1), Some(b'e' | b'E' | b'p' | b'P'))
                })
                .map(|(i, _)| i)
                .last()
                .ok_or_else(|| format!("illegal number syntax: {}", go_quote(text)))?;
            let re = parse_float(&text[..split])
                .ok_or_else(|| format!("illegal number syntax: {}", go_quote(text)))?;
            let im = text[split..]
                .strip_suffix('i')
                .and_then(parse_float)
                .ok_or_else(|| format!("illegal number syntax: {}", go_quote(text)))?;
            n.is_complex = true;
            simplify_complex(&mut n, re, im);
            return Ok(n);
        }
        _ => {}
    }
    if let Some(imag) = text.strip_suffix('i')
        && let Some(f) = parse_float(imag)
    {
        n.is_complex = true;
        simplify_complex(&mut n, 0.0, f);
        return Ok(n);
    }
    let u = parse_uint(text);
    if let Some(u) = u {
        n.is_uint = true;
        n.uint64 = u;
    }
    if let Some(i) = parse_int(text) {
        n.is_int = true;
        n.int64 = i;
        if i == 0 {
            n.is_uint = true;
            n.uint64 = u.unwrap_or(0);
        }
    }
    if n.is_int {
        n.is_float = true;
        n.float64 = n.int64 as f64;
    } else if n.is_uint {
        n.is_float = true;
        n.float64 = n.uint64 as f64;
    } else if let Some(f) = parse_float(text) {
        if !text.contains(['.', 'e', 'E', 'p', 'P']) {
            return Err(format!("integer overflow: {}", go_quote(text)));
        }
        n.is_float = true;
        n.float64 = f;
        if f.fract() == 0.0 && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f) {
            n.is_int = true;
            n.int64 = f as i64;
        }
        if f.fract() == 0.0 && (0.0..1.844_674_407_370_955_2e19).contains(&f) {
            n.is_uint = true;
            n.uint64 = f as u64;
        }
    }
    if !n.is_int && !n.is_uint && !n.is_float {
        return Err(format!("illegal number syntax: {}", go_quote(text)));
    }
    Ok(n)
}

fn simplify_complex(n: &mut Number, re: f64, im: f64) {
    n.is_float = im == 0.0;
    if n.is_float {
        n.float64 = re;
        n.is_int = re.fract() == 0.0 && re.abs() < 9.2e18;
        if n.is_int {
            n.int64 = re as i64;
        }
        n.is_uint = re.fract() == 0.0 && (0.0..1.8e19).contains(&re);
        if n.is_uint {
            n.uint64 = re as u64;
        }
    }
}

/// Go's `strconv.ParseUint(s, 0, 64)`.
fn parse_uint(s0: &str) -> Option<u64> {
    if s0.is_empty() {
        return None;
    }
    let b = s0.as_bytes();
    let (base, digits): (u32, &[u8]) = if b[0] == b'0' {
        if b.len() >= 3 && b[1].eq_ignore_ascii_case(&b'b') {
            (2, &b[2..])
        } else if b.len() >= 3 && b[1].eq_ignore_ascii_case(&b'o') {
            (8, &b[2..])
        } else if b.len() >= 3 && b[1].eq_ignore_ascii_case(&b'x') {
            (16, &b[2..])
        } else {
            (8, &b[1..])
        }
    } else {
        (10, b)
    };
    let mut n: u64 = 0;
    let mut underscores = false;
    for &c in digits {
        if c == b'_' {
            underscores = true;
            continue;
        }
        let d = (c as char).to_digit(36)?;
        if d >= base {
            return None;
        }
        n = n.checked_mul(u64::from(base))?.checked_add(u64::from(d))?;
    }
    if underscores && !underscore_ok(s0) {
        return None;
    }
    Some(n)
}

/// Go's `strconv.ParseInt(s, 0, 64)`.
fn parse_int(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let u = parse_uint(body)?;
    if neg {
        if u > 1u64 << 63 {
            return None;
        }
        Some((u as i64).wrapping_neg())
    } else {
        i64::try_from(u).ok()
    }
}

/// Go's `strconv.ParseFloat(s, 64)` for the literal forms the lexer produces: decimal with
/// optional exponent, hexadecimal with a `p` exponent, `_` separators. Out-of-range values
/// fail, as in Go.
fn parse_float(s: &str) -> Option<f64> {
    if s.is_empty() {
        return None;
    }
    if s.contains('_') && !underscore_ok(s) {
        return None;
    }
    let clean: String = s.chars().filter(|&c| c != '_').collect();
    let (neg, body) = match clean.as_bytes().first() {
        Some(b'-') => (true, &clean[1..]),
        Some(b'+') => (false, &clean[1..]),
        _ => (false, clean.as_str()),
    };
    let v = if body.len() > 2
        && body.as_bytes()[0] == b'0'
        && body.as_bytes()[1].eq_ignore_ascii_case(&b'x')
    {
        parse_hex_float(&body[2..])?
    } else {
        if body.is_empty()
            || !body
                .bytes()
                .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
            || !body.bytes().any(|b| b.is_ascii_digit())
        {
            return None;
        }
        let v: f64 = body.parse().ok()?;
        if v.is_infinite() {
            return None;
        }
        v
    };
    Some(if neg { -v } else { v })
}

fn parse_hex_float(s: &str) -> Option<f64> {
    let (mant, exp) = match s.find(['p', 'P']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    // A hexadecimal mantissa requires a 'p' exponent.
    let exp: i32 = exp?.parse().ok()?;
    let (int_part, frac_part) = match mant.find('.') {
        Some(i) => (&mant[..i], &mant[i + 1..]),
        None => (mant, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    let mut v = 0f64;
    for c in int_part.chars() {
        v = v * 16.0 + f64::from(c.to_digit(16)?);
    }
    let mut scale = 1.0 / 16.0;
    for c in frac_part.chars() {
        v += f64::from(c.to_digit(16)?) * scale;
        scale /= 16.0;
    }
    let r = v * 2f64.powi(exp);
    if r.is_infinite() { None } else { Some(r) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree_strings(text: &str) -> Result<Vec<(String, String)>, String> {
        let mut funcs = FuncMap::new();
        funcs.insert(
            "contains",
            crate::funcs::Func::pure(&[crate::Ty::String, crate::Ty::String], None, |_| {
                Ok(Value::Bool(true))
            }),
        );
        parse("t", text, &funcs)
            .map(|trees| {
                trees
                    .iter()
                    .map(|t| {
                        let s: String = t.root.iter().map(|n| n.to_string()).collect();
                        (t.name.to_string(), s)
                    })
                    .collect()
            })
            .map_err(|e| e.to_string())
    }

    /// The top-level tree printed back as Go's `Root.String()` does.
    fn check(text: &str, want: &str) {
        let got = tree_strings(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        let top = got.iter().find(|(n, _)| n == "t").map(|(_, s)| s.clone());
        assert_eq!(top.as_deref(), Some(want), "{text:?}");
    }

    fn check_err(text: &str, want: &str) {
        match tree_strings(text) {
            Ok(t) => panic!("{text:?}: expected error {want:?}, parsed {t:?}"),
            Err(e) => assert_eq!(e, want, "{text:?}"),
        }
    }

    #[test]
    fn parses_like_go() {
        let cases: &[(&str, &str)] = &[
            ("", ""),
            ("{{/*\n\n\n*/}}", ""),
            (" \t\n", " \t\n"),
            ("some text", "some text"),
            ("{{.X}}", "{{.X}}"),
            ("{{printf}}", "{{printf}}"),
            ("{{$}}", "{{$}}"),
            (
                "{{with $x := 3}}{{$x 23}}{{end}}",
                "{{with $x := 3}}{{$x 23}}{{end}}",
            ),
            ("{{$.I}}", "{{$.I}}"),
            ("{{printf `%d` 23}}", "{{printf `%d` 23}}"),
            ("{{.X|.Y}}", "{{.X | .Y}}"),
            ("{{$x := .X|.Y}}", "{{$x := .X | .Y}}"),
            (
                "{{.X (.Y .Z) (.A | .B .C) (.E)}}",
                "{{.X (.Y .Z) (.A | .B .C) (.E)}}",
            ),
            ("{{(.Y .Z).Field}}", "{{(.Y .Z).Field}}"),
            ("{{if .X}}hello{{end}}", "{{if .X}}hello{{end}}"),
            (
                "{{if .X}}true{{else}}false{{end}}",
                "{{if .X}}true{{else}}false{{end}}",
            ),
            (
                "{{if .X}}true{{else if .Y}}false{{end}}",
                "{{if .X}}true{{else}}{{if .Y}}false{{end}}{{end}}",
            ),
            (
                "+{{if .X}}X{{else if .Y}}Y{{else if .Z}}Z{{end}}+",
                "+{{if .X}}X{{else}}{{if .Y}}Y{{else}}{{if .Z}}Z{{end}}{{end}}{{end}}+",
            ),
            ("{{range .X}}hello{{end}}", "{{range .X}}hello{{end}}"),
            (
                "{{range .X.Y.Z}}hello{{end}}",
                "{{range .X.Y.Z}}hello{{end}}",
            ),
            (
                "{{range .X|.M}}true{{else}}false{{end}}",
                "{{range .X | .M}}true{{else}}false{{end}}",
            ),
            (
                "{{range $x, $y := .SI}}{{.}}{{end}}",
                "{{range $x, $y := .SI}}{{.}}{{end}}",
            ),
            (
                "{{range .SI}}{{.}}{{break}}{{end}}",
                "{{range .SI}}{{.}}{{break}}{{end}}",
            ),
            (
                "{{range .SI}}{{.}}{{ continue }}{{end}}",
                "{{range .SI}}{{.}}{{continue}}{{end}}",
            ),
            (
                "{{range .SI 1 -3.2i true false 'a' nil}}{{end}}",
                "{{range .SI 1 -3.2i true false 'a' nil}}{{end}}",
            ),
            ("{{template `x`}}", "{{template \"x\"}}"),
            ("{{template `x` .Y}}", "{{template \"x\" .Y}}"),
            (
                "{{with .X}}hello{{else}}goodbye{{end}}",
                "{{with .X}}hello{{else}}goodbye{{end}}",
            ),
            (
                "{{with .X}}hello{{else with .Y}}goodbye{{end}}",
                "{{with .X}}hello{{else}}{{with .Y}}goodbye{{end}}{{end}}",
            ),
            ("x \r\n\t{{- 3}}", "x{{3}}"),
            ("{{3 -}}\n\n\ty", "{{3}}y"),
            ("x \r\n\t{{- 3 -}}\n\n\ty", "x{{3}}y"),
            ("x\n{{-  3   -}}\ny", "x{{3}}y"),
            ("x \r\n\t{{- /* hi */}}", "x"),
            ("{{/* hi */ -}}\n\n\ty", "y"),
            ("x \r\n\t{{- /* */ -}}\n\n\ty", "xy"),
            ("{{block \"foo\" .}}hello{{end}}", "{{template \"foo\" .}}"),
            ("{{ $x \n := \n 1 \n }}", "{{$x := 1}}"),
            ("{{\n\"x\"\n|\nprintf\n}}", "{{\"x\" | printf}}"),
            ("{{-\n/*\nhello\n*/\n-}}", ""),
            ("{{$x := 0}}{{$x}}", "{{$x := 0}}{{$x}}"),
            ("{{$x:=.}}{{$x +2}}", "{{$x := .}}{{$x +2}}"),
            (
                "{{range $x := 0}}{{$x}}{{end}}",
                "{{range $x := 0}}{{$x}}{{end}}",
            ),
            (
                "{{range $x = 0}}{{$x}}{{end}}",
                "{{range $x = 0}}{{$x}}{{end}}",
            ),
            ("{{$x := 1}}{{$x.a.b}}", "{{$x := 1}}{{$x.a.b}}"),
            ("{{(.X).Y.Z}}", "{{(.X).Y.Z}}"),
            ("{{-3}}", "{{-3}}"),
            ("{{'\\''}}", "{{'\\''}}"),
        ];
        for (text, want) in cases {
            check(text, want);
        }
    }

    #[test]
    fn parse_errors_like_go() {
        let cases: &[(&str, &str)] = &[
            ("{{}}", "template: t:1: missing value for command"),
            ("{{\n}}", "template: t:2: missing value for command"),
            ("hello{{range", "template: t:1: unclosed action"),
            ("{{end}}", "template: t:1: unexpected {{end}}"),
            ("{{else}}", "template: t:1: unexpected {{else}}"),
            (
                "{{if .X}}1{{else}}2{{else}}3{{end}}",
                "template: t:1: expected end; found {{else}}",
            ),
            ("hello{{range .x}}", "template: t:1: unexpected EOF"),
            ("hello{{range .x}}{{else}}", "template: t:1: unexpected EOF"),
            (
                "hello{{undefined}}",
                "template: t:1: function \"undefined\" not defined",
            ),
            ("{{$x}}", "template: t:1: undefined variable \"$x\""),
            (
                "{{with $x := 4}}{{end}}{{$x}}",
                "template: t:1: undefined variable \"$x\"",
            ),
            (
                "{{template $v}}",
                "template: t:1: unexpected \"$v\" in template clause",
            ),
            (
                "{{with $x.Y := 4}}{{end}}",
                "template: t:1: undefined variable \"$x\"",
            ),
            (
                "{{template .X}}",
                "template: t:1: unexpected \".X\" in template clause",
            ),
            (
                "{{printf 3, 4}}",
                "template: t:1: unexpected \",\" in operand",
            ),
            (
                "{{with $v, $u := 3}}{{end}}",
                "template: t:1: too many declarations in with",
            ),
            (
                "{{range $u, $v, $w := 3}}{{end}}",
                "template: t:1: too many declarations in range",
            ),
            (
                "{{printf (printf .).}}",
                "template: t:1: unexpected <.> in operand",
            ),
            (
                "{{printf 3`x`}}",
                "template: t:1: unexpected \"`x`\" in operand",
            ),
            (
                "{{printf `x`.}}",
                "template: t:1: unexpected <.> in operand",
            ),
            (
                "{{if .X}}a{{else if .Y}}b{{end}}{{end}}",
                "template: t:1: unexpected {{end}}",
            ),
            (
                "{{range .}}{{end}} {{break}}",
                "template: t:1: {{break}} outside {{range}}",
            ),
            (
                "{{range .}}{{end}} {{continue}}",
                "template: t:1: {{continue}} outside {{range}}",
            ),
            (
                "{{range .}}{{else}}{{break}}{{end}}",
                "template: t:1: {{break}} outside {{range}}",
            ),
            (
                "{{$x := 0}}{{$x += 1}}",
                "template: t:1: illegal number syntax: \"+\"",
            ),
            (
                "{{$x := 0}}{{$x ! 2}}",
                "template: t:1: unexpected \"!\" in operand",
            ),
            (
                "{{range $x := $y := 3}}{{end}}",
                "template: t:1: undefined variable \"$y\"",
            ),
            (
                "{{$x:=.}}{{$x!2}}",
                "template: t:1: bad character U+0021 '!'",
            ),
            (
                "{{$x:=.}}{{$x+2}}",
                "template: t:1: bad character U+002B '+'",
            ),
            ("{{1.E}}", "template: t:1: illegal number syntax: \"1.E\""),
            (
                "{{0.1.E}}",
                "template: t:1: unexpected . after term \"0.1\"",
            ),
            (
                "{{true.E}}",
                "template: t:1: unexpected . after term \"true\"",
            ),
            (
                "{{'a'.any}}",
                "template: t:1: unexpected . after term \"'a'\"",
            ),
            (
                "{{\"hello\".guys}}",
                "template: t:1: unexpected . after term \"\\\"hello\\\"\"",
            ),
            ("{{..E}}", "template: t:1: unexpected . after term \".\""),
            (
                "{{nil.E}}",
                "template: t:1: unexpected . after term \"nil\"",
            ),
            (
                "{{12|.}}",
                "template: t:1: non executable command in pipeline stage 2",
            ),
            (
                "{{.|12|printf}}",
                "template: t:1: non executable command in pipeline stage 2",
            ),
            (
                "{{.|printf|\"error\"}}",
                "template: t:1: non executable command in pipeline stage 3",
            ),
            (
                "{{printf \"%d\" ( ) }}",
                "template: t:1: missing value for parenthesized pipeline",
            ),
            (
                "{{block \"foo\"}}hello{{end}}",
                "template: t:1: missing value for block clause",
            ),
            ("line1\n{{", "template: t:2: unclosed action"),
            (
                "line1\n{{define `x`}}line2\n{{",
                "template: t:3: unclosed action",
            ),
            (
                "line1\n{{\"x\"\n\"y\"\n",
                "template: t:4: unclosed action started at t:2",
            ),
            (
                "{{\n\n\n\n\n",
                "template: t:6: unclosed action started at t:1",
            ),
            (
                "line1\n{{\nx\n}}",
                "template: t:3: function \"x\" not defined",
            ),
            ("{{/*}}", "template: t:1: unclosed comment"),
            ("{{/*\nhello\n}}", "template: t:1: unclosed comment"),
            (
                "{{/* x */ }}",
                "template: t:1: comment ends before closing delimiter",
            ),
            ("{{.X (1 2 3}}", "template: t:1: unclosed left paren"),
            ("{{.X 1 2 3 ) }}", "template: t:1: unexpected right paren"),
            ("{{(.X 1 2 3", "template: t:1: unclosed action"),
            ("{{a#}}", "template: t:1: bad character U+0023 '#'"),
            ("{{'a}}", "template: t:1: unterminated character constant"),
            ("{{\"a}}", "template: t:1: unterminated quoted string"),
            ("{{`a}}", "template: t:1: unterminated raw quoted string"),
            ("{{0xi}}", "template: t:1: illegal number syntax: \"0xi\""),
            ("{{3k}}", "template: t:1: bad number syntax: \"3k\""),
            (
                "{{define `a`}}a{{end}}{{define `a`}}b{{end}}",
                "template: t:1: template: multiple definition of template \"a\"",
            ),
            ("{{range .X}}", "template: t:1: unexpected EOF"),
            (
                "{{$x := 23}}{{with $x.y := 3}}{{$x 23}}{{end}}",
                "template: t:1: unexpected \":=\" in operand",
            ),
            (
                "{{$a,$b,$c := 23}}",
                "template: t:1: too many declarations in command",
            ),
            (
                "{{12|false}}",
                "template: t:1: non executable command in pipeline stage 2",
            ),
            (
                "{{ ( ) }}",
                "template: t:1: missing value for parenthesized pipeline",
            ),
            ("{{ $v := `\n` }} {{", "template: t:2: unclosed action"),
            (
                "{{range $k}}{{end}}",
                "template: t:1: undefined variable \"$k\"",
            ),
            (
                "{{range $k,}}{{end}}",
                "template: t:1: missing value for range",
            ),
            (
                "{{range $k, $v := }}{{end}}",
                "template: t:1: missing value for range",
            ),
            (
                "{{range $k, .}}{{end}}",
                "template: t:1: range can only initialize variables",
            ),
            (
                "{{range $k, 123 := .}}{{end}}",
                "template: t:1: range can only initialize variables",
            ),
            (
                "hello\n\n{{`unterminated\n\n\n\n}}\n some more\n\n",
                "template: t:3: unterminated raw quoted string",
            ),
            ("{{\"\\q\"}}", "template: t:1: invalid syntax"),
            (
                "{{'ab'}}",
                "template: t:1: malformed character constant: 'ab'",
            ),
            (
                "{{99999999999999999999}}",
                "template: t:1: integer overflow: \"99999999999999999999\"",
            ),
            (
                "{{1e400}}",
                "template: t:1: illegal number syntax: \"1e400\"",
            ),
            (
                "{{define \"x\"}}{{else}}{{end}}",
                "template: t:1: unexpected {{else}} in define clause",
            ),
            (
                "{{define x}}{{end}}",
                "template: t:1: unexpected \"x\" in define clause",
            ),
            (
                "{{\u{1}}}",
                "template: t:1: unrecognized character in action: U+0001",
            ),
            ("{{.x:y}}", "template: t:1: expected :="),
            // Go 1.23 quirk: newlines inside a comment are not counted.
            (
                "{{/*\n\n*/}}{{foo}}",
                "template: t:1: function \"foo\" not defined",
            ),
        ];
        for (text, want) in cases {
            check_err(text, want);
        }
    }

    #[test]
    fn defines_and_blocks() {
        let trees = tree_strings(r#"a{{block "inner" .}}bar{{.}}baz{{end}}b"#).unwrap();
        assert_eq!(
            trees,
            vec![
                ("inner".to_string(), "bar{{.}}baz".to_string()),
                ("t".to_string(), "a{{template \"inner\" .}}b".to_string())
            ]
        );
        let trees = tree_strings(r#"{{define "t"}}X{{end}}"#).unwrap();
        assert_eq!(trees, vec![("t".to_string(), "X".to_string())]);
        let trees = tree_strings("{{define `x`}}A{{end}}\n{{define `y`}}B{{end}}\n").unwrap();
        assert_eq!(trees.len(), 3);
    }

    #[test]
    fn empty_trees() {
        let cases: &[(&str, bool)] = &[
            ("", true),
            ("hello", false),
            (" \t\n \t\n", true),
            ("{{/* comment */}}", true),
            ("{{define `x`}}something{{end}}", true),
            (
                "{{define `x`}}something{{end}}\n\n{{define `y`}}something{{end}}\n\n",
                true,
            ),
            (
                "{{define `x`}}something{{end}}\nx\n{{define `y`}}something{{end}}\ny\n",
                false,
            ),
            ("{{define `x`}}something{{end}}{{if 3}}foo{{end}}", false),
        ];
        for (text, empty) in cases {
            let trees = parse("root", text, &FuncMap::new()).unwrap();
            let root = trees.iter().find(|t| &*t.name == "root").unwrap();
            assert_eq!(root.is_empty(), *empty, "{text:?}");
        }
    }

    #[test]
    fn numbers() {
        let ok: &[(&str, Option<i64>, Option<f64>)] = &[
            ("0", Some(0), Some(0.0)),
            ("-0", Some(0), Some(0.0)),
            ("73", Some(73), Some(73.0)),
            ("7_3", Some(73), Some(73.0)),
            ("0b10_010", Some(18), Some(18.0)),
            ("0o73", Some(59), Some(59.0)),
            ("073", Some(59), Some(59.0)),
            ("0x73", Some(115), Some(115.0)),
            ("-73", Some(-73), Some(-73.0)),
            ("100", Some(100), Some(100.0)),
            ("1e9", Some(1_000_000_000), Some(1e9)),
            ("-1e9", Some(-1_000_000_000), Some(-1e9)),
            ("-1.2", None, Some(-1.2)),
            ("1e19", None, Some(1e19)),
            ("1e1_9", None, Some(1e19)),
            ("0x1p-2", None, Some(0.25)),
            ("+0x1.ep+2", None, Some(7.5)),
            ("'a'", Some(97), Some(97.0)),
            ("'\\n'", Some(10), Some(10.0)),
            ("'\\u00e9'", Some(233), Some(233.0)),
        ];
        for (text, int, float) in ok {
            let typ = if text.starts_with('\'') {
                ItemType::CharConstant
            } else {
                ItemType::Number
            };
            let n = new_number(text, typ).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(n.is_int.then_some(n.int64), *int, "{text}");
            assert_eq!(n.is_float.then_some(n.float64), *float, "{text}");
        }
        for bad in ["0x", "1__0", "_1", "0b2", "08", "1e", "0x1.8"] {
            assert!(new_number(bad, ItemType::Number).is_err(), "{bad}");
        }
    }

    #[test]
    fn hostile_nesting_is_an_error() {
        let deep = format!(
            "{}{}",
            "{{if 1}}".repeat(MAX_NESTING + 5),
            "{{end}}".repeat(MAX_NESTING + 5)
        );
        let err = parse("t", &deep, &FuncMap::new()).unwrap_err();
        assert_eq!(err.message, "exceeded maximum nesting depth (1000)");
        let parens = format!("{{{{{}1{}}}}}", "(".repeat(5000), ")".repeat(5000));
        let err = parse("t", &parens, &FuncMap::new()).unwrap_err();
        assert_eq!(err.message, "exceeded maximum nesting depth (1000)");
        let ok = format!("{}{}", "{{if 1}}".repeat(500), "{{end}}".repeat(500));
        assert!(parse("t", &ok, &FuncMap::new()).is_ok());
    }
}
