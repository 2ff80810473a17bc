"""Words too common to name a theme, per language, in their folded form (text.fold: lower-case, Turkish letters
folded to ASCII, Persian letters unified). Hand-written and short on purpose: TF-IDF already pushes down words
every theme shares."""
from __future__ import annotations

from surveyd.services.insight.sentiment.text import fold

_EN = """a an the and or but if so of to in on at by for with from about into over after before than then
this that these those it its it's i i'm i've me my we our you your he she they them their is are was were be been
being am do does did done have has had having will would can could should may might must not no nor very really
just too also again still even only more most much many some any all every each other such own same
what which who whom whose when where why how there here out up down off as s t don't didn't doesn't isn't wasn't
weren't won't can't couldn't wouldn't shouldn't haven't hasn't hadn't aren't im ive dont didnt doesnt isnt wasnt
cant wont got get gets getting go went gone going one two three thing things lot bit way us ok okay yes please
thanks thank""".split()

_TR = """ve veya ile ama fakat ancak ki de da mi mı mu mü bu şu o bir iki üç ben sen biz siz onlar benim bizim
sizin onun için gibi kadar daha çok en hiç her hem ya yani ne neden niye nasıl nerede şey şeyler var yok değil
olarak oldu olan olmuş olması olur ise bile sonra önce diye bana beni size sana artık hala zaten sadece tam
biraz bence kez defa şimdi hep tüm bütün""".split()

_FA = """و در به از که این آن با را برای تا یا هم اما ولی است بود شد شده می نمی هست نیست بودن کرد کردم کردند
کنم کنید کند من ما شما او آنها ایشان خود یک دو سه هر همه چه چرا چطور کجا کی هیچ خیلی بسیار فقط دیگر هنوز باز
اگر پس بعد قبل روی زیر بین مثل چون حتی ها های ای اون این‌ها آن‌ها رو هست‌ نبود بودم باشد شود""".split()

STOPWORDS: dict[str, frozenset[str]] = {
    locale: frozenset(fold(word, locale) for word in words)
    for locale, words in (("en", _EN), ("tr", _TR), ("fa", _FA))
}
