#!/usr/bin/python3
"""Groups ThreadSanitizer reports (files named on the command line) by the first frames of
their two stacks, so that a run's reports can be read as a short list."""
import re, sys, collections

def frames(block):
    out = []
    for line in block:
        m = re.match(r'\s+#(\d+) (\S+) (\S+)', line)
        if m:
            fn, where = m.group(2), m.group(3)
            where = where.split('/Sources/')[-1].split('/Tests/')[-1]
            out.append(f"{fn[:70]} {where}" if fn != '<null>' else re.sub(r'.*\((lib[^+]*)\+.*', r'\1', line.strip()))
    return out

groups = collections.Counter()
examples = {}
for path in sys.argv[1:]:
    text = open(path, errors='replace').read()
    for report in text.split('==================\n'):
        if 'WARNING: ThreadSanitizer' not in report:
            continue
        lines = report.splitlines()
        kind = next(l for l in lines if l.startswith('WARNING')).split(': ', 2)[-1].split(' (')[0].strip()
        stacks, current = [], None
        for line in lines:
            if re.match(r'\s+(Read|Write|Previous|Atomic|Swift access)', line) or line.startswith('  Previous'):
                current = [line.strip()[:60]]; stacks.append(current)
            elif re.match(r'\s+(Location|Mutex|Thread|SUMMARY)', line) or line.startswith('  Location'):
                current = None
            elif current is not None:
                current.append(line)
        key = (kind,) + tuple(' | '.join(frames(s[1:])[:3]) for s in stacks[:2])
        groups[key] += 1
        examples.setdefault(key, path)
for key, count in groups.most_common():
    print(f"{count:4d}  {key[0]}")
    for stack in key[1:]:
        print(f"        {stack}")
