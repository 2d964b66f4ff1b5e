import re,struct,subprocess,sys,os
M=0x9E3779B97F4A7C15
SLOT=8*1024*1024
R5={'left-asymmetric':0,'right-asymmetric':1,'left-symmetric':2,'right-symmetric':3,'parity-first':4,'parity-last':5,
    'ddf-zero-restart':8,'ddf-N-restart':9,'ddf-N-continue':10,'left-asymmetric-6':16,'right-asymmetric-6':17,
    'left-symmetric-6':18,'right-symmetric-6':19,'parity-first-6':20}
def decode(b):
    s,mag,h=struct.unpack_from('<Q8sQ',b,0)
    if mag==b'UMDPATRN' and h==(s*M+0x1234567)&0xFFFFFFFFFFFFFFFF: return s
    return None
out_dir=sys.argv[1]
arrays={}
order=[]
for boot in 'ABC':
    img='out%s.img'%boot
    for line in open('log%s.txt'%boot):
        m=re.match(r'MEM (\S+) slot=(\d+) dev=(\S+) role=Active device (\d+)',line)
        if m:
            tag=m.group(1)
            if tag not in arrays: arrays[tag]={'mem':{},'img':img}; order.append(tag)
            arrays[tag]['mem'][int(m.group(4))]=int(m.group(2))
        m=re.match(r'ARR (\S+) size=(\d+) layout=(\S*) args=(.*)',line)
        if m: arrays[m.group(1)].update(size=int(m.group(2)),args=m.group(4).strip())
os.makedirs(out_dir,exist_ok=True)
for tag in order:
    a=arrays[tag]; n=len(a['mem'])
    f=open(a['img'],'rb')
    def member(d):
        f.seek(a['mem'][d]*SLOT); return f.read(SLOT)
    mems=[member(d) for d in range(n)]
    sbs=[struct.unpack_from('<iIQII',m,4096+72) for m in mems]
    level,layout,size,chunk,_=sbs[0]
    doff=struct.unpack_from('<Q',mems[0],4096+128)[0]
    if level in (0,-1): sizes=[struct.unpack_from('<Q',m,4096+136)[0] for m in mems]
    else: sizes=[size]*n
    # sample rows
    c=chunk if chunk else 8
    R=max(sizes)//c
    rows=set(range(min(R,10 if level in (4,5,6) else 8)))
    if level==10:
        fc=(layout>>8)&255
        rows=set(range(6))
        if not layout&0x10000:
            for k in range(1,fc):
                b=k*R//fc; rows|=set(range(max(0,b-1),min(R,b+3)))
    if level in (0,-1):
        rows=set(range(0,R,max(1,R//16)))
    rows|={R-1}
    lines=['# mdadm --create %s' % a['args'],
           'level %d layout %d chunk %d disks %d array %d' % (level,layout,chunk,n,a['size']),
           'member ' + ' '.join(map(str,sizes))]
    bad=0
    for r in sorted(rows):
        ent=[]
        for d in range(n):
            base=(doff+r*c)*512
            if base+512>len(mems[d]): ent.append('-'); continue
            blk=mems[d][base:base+512]
            v=decode(blk)
            if v is not None:
                # whole chunk must be contiguous
                for i in range(1,c):
                    if base+(i+1)*512<=len(mems[d]) and decode(mems[d][base+i*512:base+i*512+512])!=v+i: bad+=1
                ent.append(str(v))
            elif blk==bytes(512): ent.append('-')
            elif level==6: ent.append('PQ:'+blk[:8].hex())
            elif level in (4,5): ent.append('P')
            else: ent.append('?')
        lines.append('row %d: %s' % (r,' '.join(ent)))
    if bad: print(tag,'NONCONTIGUOUS',bad)
    open(os.path.join(out_dir,tag+'.txt'),'w').write('\n'.join(lines)+'\n')
    print(tag,level,layout,chunk,n,a['size'],sizes[:5],len(rows))
