#!/usr/bin/env python3
"""Check that every relative link in README.md, datasets/README.md and docs/*.md resolves.

usage: doclinks.py [SOURCE_DIR]            (default: the repository above this file)
       doclinks.py --slug 'Some heading'   (print the anchor GitHub gives a heading)
       doclinks.py --self-test             (the checker on a made-up tree: it must
                                            find exactly the links broken on purpose)

A link [text](path), [text](path#anchor), [text](#anchor) or an image
![alt](path) must name a file or directory that exists, relative to the page
that links; an #anchor must be a heading of the page it points into, spelt as
GitHub spells it: the heading's text lowercased, every character that is not
a letter, digit, '_', '-' or space dropped, spaces turned into '-', and a
second heading of the same anchor numbered (-1, -2, ...).  Links with a
scheme (https:, mailto:) are not followed.  Code (fenced blocks and `spans`)
is not read for links or headings.

The same holds for the pointers into the documentation that the sources
write as text (a --help line's "docs/training.md#optimizers", a comment's
"docs/data.md"): every docs/NAME.md[#anchor] or README.md[#anchor] in a file
under src/, include/, scripts/ and tests/ is resolved from the repository's
root.  Prints one line per broken link (FILE:LINE: ...) and exits with
status 1 if there is any, else 0.
"""
import os
import re
import sys

FENCE = re.compile(r'^\s*(```|~~~)')
HEADING = re.compile(r'^(#{1,6})\s+(.*?)\s*#*\s*$')
LINK = re.compile(r'!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)')
CODE_SPAN = re.compile(r'(`+)(.+?)\1')


def slug(text):
    """GitHub's anchor of a heading's text (markdown of the text as written)."""
    text = CODE_SPAN.sub(lambda m: m.group(2), text)
    text = re.sub(r'!?\[([^\]]*)\]\([^)]*\)', r'\1', text)  # a link's text stays
    text = re.sub(r'<[^>]+>', '', text)                     # inline HTML goes
    text = text.lower()
    text = ''.join(c for c in text if c.isalnum() or c in '_- ')
    return text.replace(' ', '-')


def lines_outside_code(path):
    """(line number, text with code spans blanked) for each line not in a fence."""
    fenced = False
    with open(path, encoding='utf-8') as f:
        for n, line in enumerate(f, 1):
            if FENCE.match(line):
                fenced = not fenced
                continue
            if not fenced:
                yield n, line.rstrip('\n')


def anchors(path, cache={}):
    if path not in cache:
        seen = {}
        out = set()
        for _, line in lines_outside_code(path):
            m = HEADING.match(line)
            if not m:
                continue
            base = slug(m.group(2))
            k = seen.get(base, 0)
            seen[base] = k + 1
            out.add(base if k == 0 else '%s-%d' % (base, k))
        cache[path] = out
    return cache[path]


def check(root):
    pages = [os.path.join(root, 'README.md')]
    if os.path.isfile(os.path.join(root, 'datasets', 'README.md')):
        pages.append(os.path.join(root, 'datasets', 'README.md'))
    docs = os.path.join(root, 'docs')
    if os.path.isdir(docs):
        pages += sorted(os.path.join(docs, f) for f in os.listdir(docs) if f.endswith('.md'))
    broken = []
    n_links = 0
    for page in pages:
        if not os.path.isfile(page):
            broken.append('%s: missing' % os.path.relpath(page, root))
            continue
        where = os.path.relpath(page, root)
        for n, line in lines_outside_code(page):
            line = CODE_SPAN.sub(lambda m: ' ' * len(m.group(0)), line)
            for m in LINK.finditer(line):
                target = m.group(1)
                if re.match(r'^[a-zA-Z][a-zA-Z0-9+.-]*:', target):
                    continue  # https:, mailto: ...
                n_links += 1
                path, _, anchor = target.partition('#')
                dest = os.path.normpath(os.path.join(os.path.dirname(page), path)) if path else page
                if not target:
                    broken.append('%s:%d: empty link' % (where, n))
                elif not os.path.exists(dest):
                    broken.append('%s:%d: %s: no such file (%s)'
                                  % (where, n, target, os.path.relpath(dest, root)))
                elif anchor:
                    if not dest.endswith('.md') or not os.path.isfile(dest):
                        broken.append('%s:%d: %s: an anchor into a file that is not markdown'
                                      % (where, n, target))
                    elif anchor not in anchors(dest):
                        broken.append('%s:%d: %s: %s has no heading with the anchor #%s'
                                      % (where, n, target, os.path.relpath(dest, root), anchor))
    pointer = re.compile(r'(?<![\w/.-])((?:docs/[\w.-]+\.md|(?:datasets/)?README\.md)(?:#[\w-]+)?)')
    for top in ('src', 'include', 'scripts', 'tests'):
        for d, subdirs, files in os.walk(os.path.join(root, top)):
            subdirs[:] = [s for s in subdirs if s != 'corpus']
            for f in sorted(files):
                path = os.path.join(d, f)
                if os.path.abspath(path) == os.path.abspath(__file__) or \
                        not f.endswith(('.c', '.h', '.sh', '.py', '.txt', '.in', '.cmake')):
                    continue
                with open(path, encoding='utf-8', errors='replace') as fh:
                    for n, line in enumerate(fh, 1):
                        for m in pointer.finditer(line):
                            n_links += 1
                            target = m.group(1)
                            file, _, anchor = target.partition('#')
                            dest = os.path.join(root, file)
                            where = os.path.relpath(path, root)
                            if not os.path.isfile(dest):
                                broken.append('%s:%d: %s: no such file' % (where, n, target))
                            elif anchor and anchor not in anchors(dest):
                                broken.append('%s:%d: %s: %s has no heading with the anchor #%s'
                                              % (where, n, target, file, anchor))
    for b in broken:
        print(b)
    print('doclinks: %d pages, %d relative links and pointers from the sources, %d broken'
          % (len(pages), n_links, len(broken)))
    return 1 if broken else 0


def self_test():
    """The checker must pass good links and report each broken one: a test that
    cannot fail would let every page rot."""
    import io
    import tempfile
    from contextlib import redirect_stdout
    with tempfile.TemporaryDirectory() as root:
        os.mkdir(os.path.join(root, 'docs'))
        with open(os.path.join(root, 'docs', 'pic.png'), 'w'):
            pass
        pages = {
            'README.md': '# Top\n\n[ok](docs/a.md) [ok](docs/a.md#step-1-ab-cd) '
                         '[ok](#top) ![ok](docs/pic.png) [web](https://example.org/x#y)\n'
                         '[bad](docs/missing.md)\n`[code](nowhere.md)`\n'
                         '```\n[fenced](nowhere.md)\n# Not a heading\n```\n'
                         '[bad](#not-a-heading)\n',
            'docs/a.md': '# A page\n\n## Step 1: a/b, c.d\n\n## `--opt` (default)\n\n## A page\n\n'
                         '[ok](../README.md#top) [ok](#--opt-default) [ok](#a-page-1)\n'
                         '[bad](#a-page-2) [bad](a.md#Step-1-ab-cd) [bad](../README.md#a-page)\n',
        }
        os.mkdir(os.path.join(root, 'src'))
        pages['src/x.c'] = ('/* see docs/a.md#a-page and README.md */\n'
                            '"see docs/a.md#no-such-heading"\n"docs/gone.md"\n')
        for name, text in pages.items():
            with open(os.path.join(root, name), 'w') as f:
                f.write(text)
        out = io.StringIO()
        with redirect_stdout(out):
            status = check(root)
        got = sorted(l.split(': ')[0] + ' ' + l.split(': ')[1] for l in out.getvalue().splitlines()
                     if not l.startswith('doclinks:'))
        want = sorted(['README.md:4 docs/missing.md', 'README.md:10 #not-a-heading',
                       'docs/a.md:10 #a-page-2', 'docs/a.md:10 a.md#Step-1-ab-cd',
                       'docs/a.md:10 ../README.md#a-page',
                       'src/x.c:2 docs/a.md#no-such-heading', 'src/x.c:3 docs/gone.md'])
        if status != 1 or got != want:
            print('doclinks self-test failed: status %d, reported %s, expected %s'
                  % (status, got, want))
            return 1
    print('doclinks self-test: the %d links broken on purpose were reported, no other' % len(want))
    return 0


if __name__ == '__main__':
    if len(sys.argv) == 2 and sys.argv[1] == '--self-test':
        sys.exit(self_test())
    if len(sys.argv) == 3 and sys.argv[1] == '--slug':
        print(slug(sys.argv[2]))
        sys.exit(0)
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
    sys.exit(check(os.path.abspath(root)))
